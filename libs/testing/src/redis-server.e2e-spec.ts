import Redis from 'ioredis';
import { isAlive } from './net';
import { startRedis } from './redis-server';

jest.setTimeout(30_000);

describe('startRedis', () => {
  it('starts a private redis-server, answers SET/GET, and stops leaving no process', async () => {
    const redis = await startRedis();
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(isAlive(redis.pid)).toBe(true);
    const client = new Redis(redis.url);
    try {
      await client.set('k', 'v');
      expect(await client.get('k')).toBe('v');
      // No persistence: a test's data never outlives it.
      expect(await client.config('GET', 'save')).toEqual(['save', '']);
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    } finally {
      client.disconnect();
      await redis.stop();
    }
    expect(isAlive(redis.pid)).toBe(false);
  });

  it('names the Debian package when redis-server is missing', async () => {
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(startRedis()).rejects.toThrow(/redis-server is not installed.*apt-get install -y --no-install-recommends redis-server/);
    } finally {
      process.env.PATH = saved;
    }
  });
});
