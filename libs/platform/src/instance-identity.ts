// Which storage a Redis indexes. Storage holds an instance id, written at first start; Redis holds
// the id of the storage its indexes came from. Two platforms pointed at one Redis with one prefix
// (an easy mistake: the default is the shared 127.0.0.1:6379) would read each other's indexes, run
// each other's jobs and see each other's cached users; the second one refuses to start instead,
// and says what to do. A Redis that holds no id (fresh, or flushed) is adopted.
//
//   storage: instance/id                     this storage's id (a UUID), written once
//   redis:   <prefix>:instance               the id of the storage this Redis indexes
import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import type { StorageDriver } from '@stevedore/storage';
import type { RedisKeys } from './redis';

export const INSTANCE_ID_PATH = 'instance/id';
const instanceKey = (keys: RedisKeys) => keys.key('instance');

export type InstanceCheck =
  /** Redis indexes this storage. */
  | { state: 'same'; id: string }
  /** Redis held no id and now holds this storage's: `fresh` when the storage was new too. */
  | { state: 'adopted'; id: string; fresh: boolean };

export class InstanceMismatchError extends Error {
  constructor(
    readonly storageId: string | undefined,
    readonly redisId: string,
    readonly where: string,
  ) {
    super(
      `the Redis at ${where} holds the indexes of another Stevedore (storage instance ${redisId}); this storage is ` +
        (storageId ? `instance ${storageId}` : 'new') +
        '.\n  Give this platform its own Redis, or its own STEVEDORE_REDIS_PREFIX (e.g. STEVEDORE_REDIS_PREFIX=stevedore-2),' +
        '\n  or, if this storage is meant to replace the other one, run `stevedore-server reindex` to rebuild that Redis from this storage.',
    );
    this.name = 'InstanceMismatchError';
  }
}

async function readId(storage: StorageDriver): Promise<string | undefined> {
  const raw = await storage.getContent(INSTANCE_ID_PATH).catch(() => undefined);
  const id = raw?.toString().trim();
  return id || undefined;
}

/**
 * Check (or establish) that `redis` indexes `storage`. Processes of one platform start together
 * (all split targets, replicas): Redis decides which of them names a new storage (SET NX), and the
 * others wait for that id to appear in storage.
 */
export async function checkInstance(
  storage: StorageDriver,
  redis: Redis,
  keys: RedisKeys,
  where: string,
  waitMs = 5_000,
): Promise<InstanceCheck> {
  const key = instanceKey(keys);
  let id = await readId(storage);
  let fresh = false;
  if (!id) {
    const candidate = randomUUID();
    if ((await redis.set(key, candidate, 'NX')) === 'OK') {
      await storage.putContent(INSTANCE_ID_PATH, candidate);
      return { state: 'adopted', id: candidate, fresh: true };
    }
    // Another process of this platform is naming the storage, or this Redis indexes another one.
    const deadline = Date.now() + waitMs;
    while (!id && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      id = await readId(storage);
    }
    fresh = true;
  }
  const held = await redis.get(key);
  if (!id) throw new InstanceMismatchError(undefined, held ?? '?', where);
  if (held === id) return { state: 'same', id };
  if (held === null) {
    // A fresh or flushed Redis: it becomes this storage's index.
    if ((await redis.set(key, id, 'NX')) === 'OK' || (await redis.get(key)) === id) return { state: 'adopted', id, fresh };
  }
  throw new InstanceMismatchError(id, (await redis.get(key)) ?? '?', where);
}

/** After `reindex` rebuilt this Redis from this storage: it now indexes this storage. */
export async function claimInstance(storage: StorageDriver, redis: Redis, keys: RedisKeys): Promise<string> {
  let id = await readId(storage);
  if (!id) {
    id = randomUUID();
    await storage.putContent(INSTANCE_ID_PATH, id);
  }
  await redis.set(instanceKey(keys), id);
  return id;
}
