// Content digests: parse, validate, compute (streaming, with byte count), verify.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { RegistryError } from './errors';

export type DigestAlgorithm = 'sha256' | 'sha512';
const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

/** A validated digest string, `algorithm:hex`. Branded so unchecked strings cannot pass for one. */
export type Digest = string & { readonly __digest: unique symbol };

const DIGEST_RE = /^(sha256|sha512):([a-f0-9]+)$/;

export function isDigest(value: unknown): value is Digest {
  if (typeof value !== 'string') return false;
  const m = DIGEST_RE.exec(value);
  return !!m && m[2].length === HEX_LENGTH[m[1] as DigestAlgorithm];
}

/** Parse a digest; throws DIGEST_INVALID with the offending value in the detail. */
export function parseDigest(value: string): Digest {
  if (!isDigest(value)) {
    throw new RegistryError('DIGEST_INVALID', `invalid digest "${String(value).slice(0, 160)}"`, {
      digest: String(value).slice(0, 160),
      expected: 'sha256:<64 lowercase hex> or sha512:<128 lowercase hex>',
    });
  }
  return value;
}

export function digestAlgorithm(d: Digest): DigestAlgorithm {
  return d.slice(0, d.indexOf(':')) as DigestAlgorithm;
}

export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` as Digest;
}

/** Incremental digester: feed chunks, then read the digest and the byte count. */
export class Digester {
  private readonly hash: Hash;
  private bytes = 0;
  private result?: Digest;
  constructor(readonly algorithm: DigestAlgorithm = 'sha256') {
    this.hash = createHash(algorithm);
  }
  update(chunk: Uint8Array): this {
    if (this.result) throw new Error('Digester already finished');
    this.hash.update(chunk);
    this.bytes += chunk.length;
    return this;
  }
  get size(): number {
    return this.bytes;
  }
  digest(): Digest {
    this.result ??= `${this.algorithm}:${this.hash.digest('hex')}` as Digest;
    return this.result;
  }
}

/**
 * A pass-through stream that digests and counts what flows through it, so storing and hashing a
 * blob is one pass. Read `digest()` and `size` after 'finish'/'end'.
 */
export class DigestStream extends Transform {
  private readonly digester: Digester;
  constructor(algorithm: DigestAlgorithm = 'sha256') {
    super();
    this.digester = new Digester(algorithm);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.digester.update(chunk);
    cb(null, chunk);
  }
  get size(): number {
    return this.digester.size;
  }
  digest(): Digest {
    return this.digester.digest();
  }
}

/** Throw DIGEST_INVALID unless `actual` equals `expected`. */
export function verifyDigest(expected: Digest, actual: Digest): void {
  if (expected !== actual) {
    throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { expected, actual });
  }
}
