// Every line written in a request's context carries its request id, at every level, also where
// no per-request logger exists (above info: loggingModule gives no route pino-http's middleware).
import { spawnSync } from 'node:child_process';
import path from 'node:path';

function allLinesAt(level: string): Array<Record<string, unknown>> {
  const run = spawnSync(process.execPath, ['-r', '@swc-node/register', path.join(__dirname, '..', 'test', 'log-lines.ts'), level], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(run.status).toBe(0);
  return run.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
const linesAt = (level: string) => allLinesAt(level).filter((l) => l.context === 'fixture');

describe('log lines', () => {
  it.each(['warn', 'info'])('at %s carry the request id inside a request and none outside', (level) => {
    const lines = linesAt(level);
    expect(lines.map((l) => ({ msg: l.msg, requestId: l.requestId }))).toEqual([
      { msg: 'inside a request', requestId: 'fixture-request-1' },
      { msg: 'outside any request', requestId: undefined },
    ]);
  });

  // A 5xx answer is in the log whatever the level: above info serverErrorLogger writes it at error,
  // at info pino-http's request line does (and serverErrorLogger adds nothing, so it is there once).
  it.each([
    ['warn', 50],
    ['error', 50],
    ['info', 30],
  ])('at %s an answered 5xx is one line (level %d), a 200 none above info', (level, pinoLevel) => {
    const answers = allLinesAt(level).filter((l) => (l.res as { statusCode?: number } | undefined)?.statusCode !== undefined);
    const errored = answers.filter((l) => (l.res as { statusCode: number }).statusCode === 503);
    expect(errored).toHaveLength(1);
    expect(errored[0]).toMatchObject({ level: pinoLevel, msg: 'request errored', req: { method: 'GET', url: '/fixture/unavailable' } });
    expect(JSON.stringify(errored[0])).toMatch(/"res":\{"statusCode":503/);
    expect(answers.filter((l) => (l.res as { statusCode: number }).statusCode === 200)).toHaveLength(level === 'info' ? 1 : 0);
  });
});
