// Stored objects read back to back as one stream (an upload's chunks, each up to where the next begins).
import { Readable } from 'node:stream';
import type { StorageDriver } from '@stevedore/storage';

/** Bytes of an object: `length` of them from `offset` (default 0). */
export interface ObjectSpan {
  path: string;
  offset?: number;
  length: number;
}

export function concatObjects(storage: StorageDriver, spans: ObjectSpan[]): Readable {
  return Readable.from(
    (async function* () {
      for (const s of spans) if (s.length > 0) yield* await storage.reader(s.path, { offset: s.offset ?? 0, length: s.length });
    })(),
  );
}
