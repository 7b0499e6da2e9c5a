// Stored objects read back to back as one stream (an upload's chunks, each up to where the next begins).
import { Readable } from 'node:stream';
import type { StorageDriver } from '@stevedore/storage';

/** An object and how many of its bytes count. */
export interface ObjectSpan {
  path: string;
  length: number;
}

export function concatObjects(storage: StorageDriver, spans: ObjectSpan[]): Readable {
  return Readable.from(
    (async function* () {
      for (const s of spans) if (s.length > 0) yield* await storage.reader(s.path, { offset: 0, length: s.length });
    })(),
  );
}
