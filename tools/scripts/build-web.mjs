// Builds the web UI (apps/web, Vite) into dist/apps/web: run by `npm ci` (postinstall) and by
// `npm start` when the build is missing. An install without dev dependencies (the Docker images'
// `npm ci --omit=dev`) has no Vite and no UI sources: it says so and builds nothing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const vite = path.join(root, 'node_modules/vite/bin/vite.js');
const config = path.join(root, 'apps/web/vite.config.mts');

export const WEB_INDEX = path.join(root, 'dist/apps/web/index.html');

export function buildWeb() {
  if (!existsSync(vite) || !existsSync(config)) {
    console.error('stevedore: not building the web UI (no Vite or no apps/web here: an install without dev dependencies)');
    return 0;
  }
  const started = Date.now();
  const r = spawnSync(process.execPath, [vite, 'build', '--config', config, '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('stevedore: building the web UI failed (see above)');
    return r.status ?? 1;
  }
  console.error(`stevedore: built the web UI into dist/apps/web in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exit(buildWeb());
