#!/usr/bin/env node
// Launcher for the `stevedore` command. It runs the esbuild bundle dist/main.js (built by `npm ci`'s
// postinstall and by `nx run cli:build`: tools/scripts/build-cli.mjs; a published package ships it)
// unless, in the repository, one of the files it was built from (dist/main.inputs.json) is newer
// than it, or STEVEDORE_CLI_SOURCE=1: then the TypeScript sources run through @swc-node/register
// (0.5-0.8 s a start against about 0.1 s for the bundle), so an edit is never run stale.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const compiled = path.join(root, 'dist', 'main.js');
const inputs = path.join(root, 'dist', 'main.inputs.json');
const source = path.join(root, 'src', 'main.ts');

function bundleIsCurrent() {
  let built;
  try {
    built = fs.statSync(compiled).mtimeMs;
  } catch {
    return false;
  }
  if (!fs.existsSync(source)) return true; // a published package: no sources to compare with
  if (process.env.STEVEDORE_CLI_SOURCE === '1') return false;
  try {
    const repo = path.join(root, '../..');
    for (const f of JSON.parse(fs.readFileSync(inputs, 'utf8'))) {
      const st = fs.statSync(path.join(repo, f), { throwIfNoEntry: false });
      if (!st || st.mtimeMs > built) return false;
    }
    return true;
  } catch {
    return false;
  }
}

// Compiling the bundle is most of a start: V8's code cache for it (dist/main.js.cache, made by the
// first start and whenever V8 refuses it) skips that. The cache begins with the SHA-1 of the bundle
// it was made from, so a rebuilt bundle never runs with another's cache.
function loadBundle() {
  const Module = require('node:module');
  const vm = require('node:vm');
  const crypto = require('node:crypto');
  const source = fs.readFileSync(compiled, 'utf8');
  const hash = crypto.createHash('sha1').update(source).digest();
  const cacheFile = compiled + '.cache';
  let cachedData;
  try {
    const c = fs.readFileSync(cacheFile);
    if (c.length > hash.length && c.subarray(0, hash.length).equals(hash)) cachedData = c.subarray(hash.length);
  } catch {
    // no cache yet
  }
  const script = new vm.Script(Module.wrap(source), { filename: compiled, cachedData });
  const mod = new Module(compiled, module);
  mod.filename = compiled;
  mod.paths = Module._nodeModulePaths(path.dirname(compiled));
  script.runInThisContext().call(mod.exports, mod.exports, (id) => mod.require(id), mod, compiled, path.dirname(compiled));
  mod.loaded = true;
  if (!cachedData || script.cachedDataRejected) {
    // After the run, so the cache holds the functions a start compiles; a read-only install just goes without.
    process.once('exit', () => {
      try {
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, Buffer.concat([hash, script.createCachedData()]));
        fs.renameSync(tmp, cacheFile);
      } catch {
        // not writable: every start compiles
      }
    });
  }
  return mod.exports;
}

if (bundleIsCurrent()) {
  loadBundle().main();
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
