// The production overlay's Redis init script (redis-sentinel.yaml), run with sh as the init
// container runs it, on this machine: which pod becomes primary on a first start, what each pod's
// redis.conf and sentinel.conf say, and that a real redis-server loads the redis.conf it writes.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort, requireBinary, waitFor } from '@stevedore/testing';
import { get, rendered } from './manifests';

jest.setTimeout(30_000);

const objects = rendered('production');
const script: string = get(objects, 'ConfigMap', 'redis-sentinel').data['init.sh'];
const baseConf: string = get(objects, 'ConfigMap', 'redis-config').data['redis.conf'];

function runInit(podName: string, base = baseConf): { dir: string; redisConf: string; sentinelConf: string; out: string } {
  const dir = mkdtempSync(join(os.tmpdir(), 'redis-init-'));
  writeFileSync(join(dir, 'base.conf'), base.replace(/^dir \/data$/m, `dir ${dir}`));
  writeFileSync(join(dir, 'init.sh'), script);
  const out = execFileSync('sh', [join(dir, 'init.sh')], {
    encoding: 'utf8',
    // `.invalid` never resolves (RFC 6761): no sentinel answers, as on the very first start.
    env: {
      PATH: process.env.PATH,
      POD_NAME: podName,
      POD_NAMESPACE: 'stevedore',
      CONF_DIR: dir,
      BASE_CONF: join(dir, 'base.conf'),
      DOMAIN: 'redis-headless.invalid',
    },
  });
  return {
    dir,
    out,
    redisConf: readFileSync(join(dir, 'redis.conf'), 'utf8'),
    sentinelConf: readFileSync(join(dir, 'sentinel.conf'), 'utf8'),
  };
}

describe('production Redis init script (first start: no sentinel answers)', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it.each(['redis-0', 'redis-1', 'redis-2'])(
    '%s: redis-0 is the primary, the others replicate it; every sentinel monitors it with quorum 2',
    (pod) => {
      const r = runInit(pod);
      dirs.push(r.dir);
      const self = `${pod}.redis-headless.invalid`;
      expect(r.out).toContain(`${self}: primary is redis-0.redis-headless.invalid`);
      expect(r.redisConf.startsWith(baseConf.replace(/^dir \/data$/m, `dir ${r.dir}`))).toBe(true);
      expect(r.redisConf).toMatch(new RegExp(`^replica-announce-ip ${self}$`, 'm'));
      if (pod === 'redis-0') expect(r.redisConf).not.toMatch(/^replicaof /m);
      else expect(r.redisConf).toMatch(/^replicaof redis-0\.redis-headless\.invalid 6379$/m);
      expect(r.sentinelConf.split('\n').filter(Boolean)).toEqual([
        'port 26379',
        `dir ${r.dir}`,
        'sentinel resolve-hostnames yes',
        'sentinel announce-hostnames yes',
        `sentinel announce-ip ${self}`,
        'sentinel monitor stevedore redis-0.redis-headless.invalid 6379 2',
        'sentinel down-after-milliseconds stevedore 5000',
        'sentinel failover-timeout stevedore 60000',
        'sentinel parallel-syncs stevedore 1',
      ]);
    },
  );

  it('the redis.conf it writes is one redis-server starts with (a replica, here)', async () => {
    // The pod's /data is this test's directory.
    const r = runInit('redis-1');
    dirs.push(r.dir);
    const port = await freePort();
    const child = spawn(
      requireBinary('redis-server', 'redis-server'),
      [join(r.dir, 'redis.conf'), '--port', String(port), '--bind', '127.0.0.1'],
      {
        stdio: 'ignore',
      },
    );
    const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 100 });
    client.on('error', () => undefined);
    try {
      await waitFor(async () => (await client.ping().catch(() => '')) === 'PONG', 10_000);
      const role = (await client.call('ROLE')) as unknown[];
      expect(role.slice(0, 3)).toEqual(['slave', 'redis-0.redis-headless.invalid', 6379]);
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    } finally {
      client.disconnect();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
    }
  });
});
