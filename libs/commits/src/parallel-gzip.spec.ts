import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { ParallelGzip } from './parallel-gzip';

async function compress(data: Buffer, chunk: number, blockSize = 1000): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  const out: Buffer[] = [];
  await pipeline(Readable.from(parts), new ParallelGzip({ blockSize, parallel: 3 }), async (src: AsyncIterable<Buffer>) => {
    for await (const c of src) out.push(c);
  });
  return Buffer.concat(out);
}

describe('ParallelGzip', () => {
  const data = Buffer.concat([randomBytes(5000), Buffer.alloc(7000, 'a'), randomBytes(123)]);

  it('writes concatenated members that gunzip back to the input', async () => {
    const gz = await compress(data, 777);
    expect(gunzipSync(gz).equals(data)).toBe(true);
    // 12,123 bytes in blocks of 1,000: 13 members, each with its own gzip magic.
    let members = 0;
    for (let i = 0; i < gz.length - 1; i++) if (gz[i] === 0x1f && gz[i + 1] === 0x8b && gz[i + 2] === 8) members++;
    expect(members).toBeGreaterThanOrEqual(13);
  });

  it('is deterministic whatever the input chunking', async () => {
    expect((await compress(data, 1)).equals(await compress(data, 4096))).toBe(true);
  });

  it('gives a valid stream for empty input', async () => {
    expect(gunzipSync(await compress(Buffer.alloc(0), 1)).length).toBe(0);
  });
});
