// The read side a split gateway runs in process (createBlobReader, its own instance over the same
// Redis and storage as layer storage): it sees a blob once layer storage has linked it, only in the
// repositories that hold it, serves its bytes (whole and ranged), and stops seeing a link as soon as
// it is removed.
import { randomBytes } from 'node:crypto';
import { digestOf } from '@stevedore/oci';
import { body, code, describeEachDriver, read } from '../test/drivers';
import { createBlobReader } from './blob-reader';
import { createLayerStorage } from './layer-storage';

describeEachDriver('BlobReader', (ctx) => {
  it('answers stat and exists from the index layer storage keeps', async () => {
    const storage = createLayerStorage(ctx.storage, ctx.redis, ctx.keys);
    const reader = createBlobReader(ctx.storage, ctx.redis, ctx.keys);
    const bytes = randomBytes(5000);
    const d = digestOf(bytes);
    expect(await reader.exists(d)).toBeUndefined();
    await storage.putBlob('r/mine', body(bytes), d);
    expect(await reader.stat('r/mine', d)).toEqual({ digest: d, size: bytes.length });
    expect(await reader.exists(d)).toEqual({ digest: d, size: bytes.length });
    expect(await reader.stat('r/other', d)).toBeUndefined();
    const whole = await reader.open('r/mine', d);
    expect((await read(whole.stream!)).equals(bytes)).toBe(true);
    const part = await reader.open('r/mine', d, { range: { start: 10, end: 19 } });
    expect((await read(part.stream!)).equals(bytes.subarray(10, 20))).toBe(true);
    expect(await code(reader.open('r/other', d))).toBe('BLOB_UNKNOWN');
    await storage.unlink('r/mine', d);
    expect(await code(reader.open('r/mine', d))).toBe('BLOB_UNKNOWN');
    expect(await reader.stat('r/mine', d)).toBeUndefined();
    expect(await reader.exists(d)).toEqual({ digest: d, size: bytes.length });
  });
});
