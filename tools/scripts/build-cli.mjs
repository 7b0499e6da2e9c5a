// Bundles the `stevedore` CLI (tools/cli/src/main.ts) with esbuild into one CommonJS file,
// tools/cli/dist/main.js, which tools/cli/bin/stevedore.js runs when it exists: every dependency
// and the @stevedore/* libraries (tsconfig path aliases) are inlined, so a start reads one file
// instead of compiling the TypeScript sources. Run by `npm ci` (postinstall) and by the cli
// project's Nx `build` target. An install without dev dependencies has no esbuild: it says so and
// builds nothing (the launcher then runs the sources through @swc-node/register). `--quiet`: no
// line when it worked (the e2e harness rebuilds it before each suite).
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const requireHere = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const entry = path.join(root, 'tools/cli/src/main.ts');

export const CLI_BUNDLE = path.join(root, 'tools/cli/dist/main.js');
const CLI_INPUTS = path.join(root, 'tools/cli/dist/main.inputs.json');

// The libraries' files are marked free of side effects, so that a file of a barrel the CLI does not
// use (libs/oci's zod schemas, built at load time) is left out rather than run at every start.
const libsWithoutSideEffects = {
  name: 'libs-without-side-effects',
  setup(build) {
    const libs = path.join(root, 'libs') + path.sep;
    build.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData?.resolving || args.kind === 'entry-point') return undefined;
      const r = await build.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: { resolving: true },
      });
      if (r.errors.length > 0 || !r.path.startsWith(libs)) return r;
      return { ...r, sideEffects: false };
    });
  },
};

// undici (half of the code) goes in a file of its own, dist/undici.js, which main.js requires on its
// first request (src/http-client.ts imports it lazily): a start that makes no request, and every
// start until its first request, does not parse it.
const undiciApart = {
  name: 'undici-apart',
  setup(build) {
    build.onResolve({ filter: /^undici$/ }, () => ({ path: './undici.js', external: true }));
  },
};

export async function buildCli({ quiet = false } = {}) {
  let esbuild;
  try {
    esbuild = requireHere('esbuild');
  } catch {
    console.error('stevedore: not bundling the CLI (no esbuild here: an install without dev dependencies)');
    return 0;
  }
  if (!existsSync(entry)) {
    console.error('stevedore: not bundling the CLI (no tools/cli/src here)');
    return 0;
  }
  const started = Date.now();
  let result;
  try {
    const common = {
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      sourcemap: 'linked',
      legalComments: 'none',
      logLevel: 'warning',
      write: false,
    };
    const [cli, undici] = await Promise.all([
      esbuild.build({
        ...common,
        entryPoints: [entry],
        outfile: CLI_BUNDLE,
        // esbuild reads the path aliases (@stevedore/*) from this tsconfig (it extends the base one).
        tsconfig: path.join(root, 'tools/cli/tsconfig.json'),
        metafile: true,
        plugins: [libsWithoutSideEffects, undiciApart],
        // import() becomes require(), also of dist/undici.js: the launcher runs the bundle as a vm.Script
        // (for V8's code cache), which has no loader for a real dynamic import.
        supported: { 'dynamic-import': false },
      }),
      esbuild.build({ ...common, entryPoints: [requireHere.resolve('undici')], outfile: path.join(path.dirname(CLI_BUNDLE), 'undici.js') }),
    ]);
    result = { metafile: cli.metafile, outputFiles: [...undici.outputFiles, ...cli.outputFiles] };
  } catch {
    console.error('stevedore: bundling the CLI failed (see above)');
    return 1;
  }
  // Each file goes in by rename: a CLI started meanwhile (parallel test suites rebuild it) reads
  // the old bundle or the new one, never half of one (undici.js goes first: the new main.js needs it).
  mkdirSync(path.dirname(CLI_BUNDLE), { recursive: true });
  // The repository files it was built from: the launcher runs the sources instead while one of them
  // is newer than the bundle (an edit since the last build), so nothing runs stale code.
  const sources = Object.keys(result.metafile.inputs).filter((f) => !f.includes('node_modules/'));
  const files = [...result.outputFiles, { path: CLI_INPUTS, contents: Buffer.from(JSON.stringify(sources) + '\n') }];
  for (const f of files) {
    const tmp = `${f.path}.${process.pid}.tmp`;
    writeFileSync(tmp, f.contents);
    renameSync(tmp, f.path);
  }
  if (!quiet) console.error(`stevedore: bundled the CLI into tools/cli/dist/main.js in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  process.exit(await buildCli({ quiet: process.argv.includes('--quiet') }));
