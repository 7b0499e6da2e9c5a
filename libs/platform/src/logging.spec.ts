// Every line written in a request's context carries its request id, at every level, also where
// no per-request logger exists (above info: loggingModule gives no route pino-http's middleware).
import { spawnSync } from 'node:child_process';
import path from 'node:path';

function linesAt(level: string): Array<Record<string, unknown>> {
  const run = spawnSync(process.execPath, ['-r', '@swc-node/register', path.join(__dirname, '..', 'test', 'log-lines.ts'), level], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(run.status).toBe(0);
  return run.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.context === 'fixture');
}

describe('log lines', () => {
  it.each(['warn', 'info'])('at %s carry the request id inside a request and none outside', (level) => {
    const lines = linesAt(level);
    expect(lines.map((l) => ({ msg: l.msg, requestId: l.requestId }))).toEqual([
      { msg: 'inside a request', requestId: 'fixture-request-1' },
      { msg: 'outside any request', requestId: undefined },
    ]);
  });
});
