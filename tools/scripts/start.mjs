// npm start: the all-in-one platform on one machine (filesystem storage under ./data, Redis from
// REDIS_URL). TypeScript is compiled on load by @swc-node/register, so the server needs no build;
// the web UI is built by `npm ci` (postinstall), or here when that did not happen (--ignore-scripts).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { WEB_INDEX, buildWeb } from './build-web.mjs';

if (!existsSync(WEB_INDEX) && buildWeb() !== 0) process.exit(1);

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const env = { STEVEDORE_DATA_DIR: path.join(root, 'data'), STEVEDORE_TARGET: 'all', ...process.env };
const child = spawn(process.execPath, ['-r', '@swc-node/register', path.join(root, 'apps/stevedore/src/main.ts')], {
  cwd: root,
  env,
  stdio: 'inherit',
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
