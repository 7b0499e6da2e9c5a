#!/usr/bin/env node
// Launcher for the `stevedore` command. A published package runs the compiled dist/main.js; in the
// repository (after `npm ci`, via `npx stevedore`) the TypeScript sources run through @swc-node/register.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const compiled = path.join(root, 'dist', 'main.js');
const source = path.join(root, 'src', 'main.ts');

if (fs.existsSync(compiled)) {
  require(compiled).main();
} else if (fs.existsSync(source)) {
  // The project's tsconfig carries the @stevedore/* path aliases; use it whatever the cwd is.
  process.env.SWC_NODE_PROJECT = path.join(root, 'tsconfig.json');
  try {
    require.resolve('@swc-node/register');
  } catch {
    process.stderr.write('Error: @swc-node/register is not installed (MODULE_NOT_FOUND); run `npm ci` in the Stevedore repository\n');
    process.exit(1);
  }
  require('@swc-node/register');
  require(source).main();
} else {
  process.stderr.write('Error: this stevedore package has no dist/main.js (MODULE_NOT_FOUND); it was packed without its build\n');
  process.exit(1);
}
