// A StorageDriver that counts and times every call of the one it wraps (metrics by operation).
import type { StorageDriver } from '@stevedore/storage';
import type { StevedoreMetrics } from './metrics';

const TIMED: ReadonlySet<string> = new Set<keyof StorageDriver>([
  'stat',
  'getContent',
  'putContent',
  'reader',
  'writeStream',
  'writeAt',
  'sync',
  'writeChecked',
  'concat',
  'delete',
  'deleteMany',
  'deletePrefix',
  'move',
  'copy',
  'presign',
  'createMultipart',
  'putPart',
  'completeMultipart',
  'abortMultipart',
]);

export function instrumentStorage(driver: StorageDriver, metrics: StevedoreMetrics): StorageDriver {
  return new Proxy(driver, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || !TIMED.has(prop) || typeof value !== 'function') {
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return async (...args: unknown[]) => {
        const end = metrics.storageDuration.startTimer({ driver: target.name, operation: prop });
        try {
          const r = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          metrics.storageOps.inc({ driver: target.name, operation: prop, outcome: 'ok' });
          return r;
        } catch (e) {
          const outcome = (e as Error)?.name === 'PathNotFoundError' ? 'not_found' : 'error';
          metrics.storageOps.inc({ driver: target.name, operation: prop, outcome });
          throw e;
        } finally {
          end();
        }
      };
    },
  });
}
