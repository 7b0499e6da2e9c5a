import { Readable } from 'node:stream';
import { chunks } from './remote-registry';
import { tee } from './tee';

describe('chunks', () => {
  it('re-chunks a stream into fixed sizes', async () => {
    const data = Buffer.from('abcdefghij');
    const src = Readable.from([data.subarray(0, 3), data.subarray(3, 4), data.subarray(4)]);
    const out: string[] = [];
    for await (const c of chunks(src, 4)) out.push(c.toString());
    expect(out).toEqual(['abcd', 'efgh', 'ij']);
  });
});

describe('tee', () => {
  it('gives every branch every byte, and keeps going when one branch is destroyed', async () => {
    const parts = Array.from({ length: 50 }, (_, i) => Buffer.alloc(64 * 1024, i));
    const [a, b] = tee(Readable.from(parts));
    const read = async (s: Readable) => {
      const got: Buffer[] = [];
      for await (const c of s) got.push(c as Buffer);
      return Buffer.concat(got);
    };
    const pb = read(b);
    a.once('data', () => a.destroy());
    const all = await pb;
    expect(all.equals(Buffer.concat(parts))).toBe(true);
  });
});
