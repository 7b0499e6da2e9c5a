import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { FILE_CHUNK_BYTES, FileRangeStream } from './file-range-stream';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A destination that takes each chunk late and copies it only then, as a slow socket would. */
function slowSink(out: Buffer[], highWaterMark = 16 * 1024): Writable {
  return new Writable({
    highWaterMark,
    write(chunk: Buffer, _e, cb) {
      setTimeout(() => {
        out.push(Buffer.from(chunk));
        cb();
      }, 1);
    },
  });
}

describe('FileRangeStream', () => {
  let dir: string;
  let file: string;
  // Not a multiple of the chunk size, so the last chunk is short.
  const data = randomBytes(5 * FILE_CHUNK_BYTES + 12345);

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'file-range-'));
    file = path.join(dir, 'blob');
    await fs.writeFile(file, data);
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  const open = async (start: number, length: number) => new FileRangeStream(await fs.open(file, 'r'), start, length);

  it('reads a range as a Readable', async () => {
    const chunks: Buffer[] = [];
    for await (const c of await open(FILE_CHUNK_BYTES - 7, 2 * FILE_CHUNK_BYTES)) chunks.push(c as Buffer);
    expect(sha(Buffer.concat(chunks))).toBe(sha(data.subarray(FILE_CHUNK_BYTES - 7, 3 * FILE_CHUNK_BYTES - 7)));
  });

  it('writes the whole file through recycled buffers without overwriting a chunk still being written', async () => {
    // Two bodies at once share the pool: a buffer released too early would corrupt one of them.
    const outs: Buffer[][] = [[], []];
    await Promise.all(outs.map(async (out) => (await open(0, Infinity)).writeTo(slowSink(out))));
    for (const out of outs) expect(sha(Buffer.concat(out))).toBe(sha(data));
  });

  it('writes a range that ends mid-chunk', async () => {
    const out: Buffer[] = [];
    await (await open(3, FILE_CHUNK_BYTES + 10)).writeTo(slowSink(out));
    expect(Buffer.concat(out).equals(data.subarray(3, FILE_CHUNK_BYTES + 13))).toBe(true);
  });

  it('fails and closes the file when the destination goes away mid-body', async () => {
    const body = await open(0, Infinity);
    let chunks = 0;
    const sink = new Writable({
      write(_c: Buffer, _e, cb) {
        // After the first chunk the peer is gone: the write never completes, as on a dead socket.
        if (++chunks === 2) sink.destroy();
        else cb();
      },
    });
    const closed = new Promise((r) => body.once('close', r));
    await expect(body.writeTo(sink)).rejects.toThrow(/closed/);
    await closed;
    expect(body.destroyed).toBe(true);
  });

  it('fails when the file is shorter than the range it was asked for', async () => {
    await expect((await open(data.length - 10, 20)).writeTo(slowSink([]))).rejects.toThrow(/ended 10 bytes before/);
  });

  it('refuses a second reader', async () => {
    const body = await open(0, 10);
    await body.writeTo(slowSink([]));
    await expect(body.writeTo(slowSink([]))).rejects.toThrow(/already/);
  });
});
