// Several storage objects read back to back as one stream (an upload's chunks).
import { Readable } from 'node:stream';
import type { StorageDriver } from '@stevedore/storage';

export function concatObjects(storage: StorageDriver, paths: string[]): Readable {
  return Readable.from(
    (async function* () {
      for (const p of paths) yield* await storage.reader(p);
    })(),
  );
}
