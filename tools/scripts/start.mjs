// npm start: the all-in-one platform on one machine (filesystem storage under ./data, Redis from
// REDIS_URL). TypeScript is compiled on load by @swc-node/register, so there is no separate build.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const env = { STEVEDORE_DATA_DIR: path.join(root, 'data'), STEVEDORE_TARGET: 'all', ...process.env };
const child = spawn(process.execPath, ['-r', '@swc-node/register', path.join(root, 'apps/stevedore/src/main.ts')], {
  cwd: root,
  env,
  stdio: 'inherit',
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
