// Lint for the whole workspace. The module-boundary rule encodes the house rules of ARCHITECTURE.md:
//   type:format  libs/oci       imports nothing of ours
//                libs/api-contract  the /api/v1 shapes (zod only): server, CLI and web UI all use it
//   type:pure    libs/unionfs   imports only libs/oci
//   type:infra   storage, platform (Nest plumbing): format + infra
//   type:domain  blobs, registry, auth, containers, images, ...: format, pure, infra, and other
//                domains only through their entry point (index.ts exports the interface and client)
//   type:testing libs/testing   test helpers; only tests import it (the tag rule lets infra and domain
//                               projects depend on it; no-restricted-imports below keeps it out of
//                               production files)
//   type:app     apps/*, tools/cli  wiring: may import any lib, never another app
// Every lib is imported through its entry point (`@stevedore/<lib>`), which exports interfaces,
// tokens and modules; a path into another lib's files (`@stevedore/<lib>/src/...`) would reach
// what its barrel keeps private (stores, repositories), so no-restricted-imports refuses it.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const deepImports = {
  group: ['@stevedore/*/*'],
  message: "Import another lib through its entry point ('@stevedore/<lib>'); its files are private to it.",
};

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '**/tmp/**', '.nx/**', 'data/**', 'coverage/**', '**/*.cjs', '**/*.js', '**/*.mjs'] },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    files: ['**/*.ts', '**/*.tsx'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          banTransitiveDependencies: false,
          checkDynamicDependenciesExceptions: [],
          depConstraints: [
            { sourceTag: 'type:format', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'type:pure', onlyDependOnLibsWithTags: ['type:format'] },
            { sourceTag: 'type:infra', onlyDependOnLibsWithTags: ['type:format', 'type:infra', 'type:testing'] },
            {
              sourceTag: 'type:domain',
              onlyDependOnLibsWithTags: ['type:format', 'type:pure', 'type:infra', 'type:domain', 'type:testing'],
            },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:format', 'type:infra', 'type:testing'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:format', 'type:pure', 'type:infra', 'type:domain', 'type:testing'] },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'require-yield': 'off',
      // Non-null assertions mark values a check earlier guarantees; banning them only adds noise.
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-restricted-imports': ['error', { patterns: [deepImports] }],
    },
  },
  {
    // Production code must not pull in test helpers. (This replaces the rule's options above for
    // these files, so it repeats the deep-import patterns.)
    files: ['**/*.ts', '**/*.tsx'],
    ignores: ['**/*.spec.ts', '**/*.e2e-spec.ts', '**/*.bench.ts', 'libs/testing/**', '**/test/**', 'deploy/local/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: '@stevedore/testing', message: 'libs/testing is for tests only.' }], patterns: [deepImports] },
      ],
    },
  },
];
