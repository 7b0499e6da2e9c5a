// Shared Jest settings: swc for speed (with decorator metadata for Nest), tsconfig paths as module names.
const path = require('node:path');
const { compilerOptions } = require('./tsconfig.base.json');

const moduleNameMapper = {};
for (const [alias, [target]] of Object.entries(compilerOptions.paths)) {
  moduleNameMapper[`^${alias.replace(/[/\\^$.*+?()[\]{}|-]/g, '\\$&')}$`] = path.join(__dirname, target);
}

module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.(t|j)s$': [
      '@swc/jest',
      {
        jsc: {
          target: 'es2022',
          parser: { syntax: 'typescript', decorators: true, dynamicImport: true },
          transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
          keepClassNames: true,
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
  // A few dependencies ship ES modules only (jose 6; content-disposition under @fastify/static):
  // any project that reaches them, even through libs/server, needs them compiled to CommonJS.
  transformIgnorePatterns: ['^(?!.*/node_modules/(jose|content-disposition)/).*/node_modules/'],
  // Scaffolded projects start empty; a project with code has specs beside it.
  passWithNoTests: true,
  testMatch: ['**/?(*.)+(spec|e2e-spec).ts'],
  testPathIgnorePatterns: ['/node_modules/', '/fixtures/', '/dist/'],
};
