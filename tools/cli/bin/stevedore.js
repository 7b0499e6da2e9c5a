#!/usr/bin/env node
// Launcher for the `stevedore` command. A published package runs the compiled dist/main.js; in the
// repository (after `npm ci`, via `npx stevedore`) the TypeScript sources run through @swc-node/register.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const compiled = path.join(__dirname, '..', 'dist', 'main.js');
if (fs.existsSync(compiled)) {
  require(compiled).main();
} else {
  // The repository's tsconfig carries the @stevedore/* path aliases; use it whatever the cwd is.
  process.env.SWC_NODE_PROJECT = path.join(__dirname, '..', 'tsconfig.json');
  require('@swc-node/register');
  require(path.join(__dirname, '..', 'src', 'main.ts')).main();
}
