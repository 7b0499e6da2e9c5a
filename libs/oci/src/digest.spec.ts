import fc from 'fast-check';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { DigestStream, Digester, digestOf, isDigest, parseDigest, verifyDigest, RegistryError } from './index';

describe('digest', () => {
  it('accepts sha256 and sha512 of the right length only', () => {
    expect(isDigest('sha256:' + 'a'.repeat(64))).toBe(true);
    expect(isDigest('sha512:' + 'b'.repeat(128))).toBe(true);
    expect(isDigest('sha256:' + 'a'.repeat(63))).toBe(false);
    expect(isDigest('sha256:' + 'A'.repeat(64))).toBe(false);
    expect(isDigest('md5:' + 'a'.repeat(32))).toBe(false);
    expect(() => parseDigest('sha256:xyz')).toThrow(RegistryError);
  });

  it('streams and one-shot agree, with the byte count', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 2000 }), { maxLength: 8 }), async (chunks) => {
        const s = new DigestStream();
        const out: Buffer[] = [];
        await pipeline(Readable.from(chunks.map((c) => Buffer.from(c))), s, async function* (src) {
          for await (const c of src) out.push(c as Buffer);
        });
        const all = Buffer.concat(chunks.map((c) => Buffer.from(c)));
        expect(s.digest()).toBe(digestOf(all));
        expect(s.size).toBe(all.length);
        expect(Buffer.concat(out).equals(all)).toBe(true);
        const d = new Digester();
        chunks.forEach((c) => d.update(c));
        expect(d.digest()).toBe('sha256:' + createHash('sha256').update(all).digest('hex'));
      }),
    );
  });

  it('verification raises DIGEST_INVALID with both digests', () => {
    const a = digestOf('a');
    const b = digestOf('b');
    expect(() => verifyDigest(a, a)).not.toThrow();
    try {
      verifyDigest(a, b);
      throw new Error('unreachable');
    } catch (e) {
      expect(RegistryError.is(e, 'DIGEST_INVALID')).toBe(true);
      expect((e as RegistryError).detail).toEqual({ expected: a, actual: b });
      expect((e as RegistryError).status).toBe(400);
    }
  });
});

describe('digest verification (property)', () => {
  it('verifyDigest passes exactly when the contents are equal', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.constantFrom('sha256' as const, 'sha512' as const),
        (a, b, alg) => {
          const same = Buffer.from(a).equals(Buffer.from(b));
          const check = () => verifyDigest(digestOf(a, alg), digestOf(b, alg));
          if (same) expect(check).not.toThrow();
          else expect(check).toThrow(RegistryError);
          expect(parseDigest(digestOf(a, alg))).toBe(digestOf(a, alg));
        },
      ),
    );
  });
});
