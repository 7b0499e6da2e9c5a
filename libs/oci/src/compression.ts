// Detect an input's compression from its magic bytes and undo it where Node can (gzip only:
// Node 20's zlib has no zstd, and bzip2/xz would need a new dependency).
import { PassThrough, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { RegistryError } from './errors';

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

const MAGIC: Array<[Compression, number[]]> = [
  ['gzip', [0x1f, 0x8b]],
  ['bzip2', [0x42, 0x5a, 0x68]], // "BZh"
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

/** How many leading bytes detectCompression needs to see. */
export const COMPRESSION_MAGIC_LENGTH = 6;

export function detectCompression(head: Uint8Array): Compression {
  for (const [kind, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) return kind;
  }
  return 'none';
}

export function unsupportedCompression(kind: Compression): RegistryError {
  return new RegistryError(
    'UNSUPPORTED',
    `${kind}-compressed input was detected but decompressing ${kind} is not supported (only plain and gzip); decompress it first`,
    { compression: kind },
    415,
  );
}

/**
 * Read the first bytes of `input`, detect its compression, and return a stream of the
 * decompressed bytes. Throws UNSUPPORTED (with the detected kind) for bzip2, xz and zstd.
 */
export async function decompressStream(input: Readable): Promise<{ compression: Compression; stream: Readable }> {
  const head = await peek(input, COMPRESSION_MAGIC_LENGTH);
  const kind = detectCompression(head.bytes);
  if (kind === 'none') return { compression: kind, stream: head.stream };
  if (kind === 'gzip') {
    const gunzip = createGunzip();
    head.stream.on('error', (e) => gunzip.destroy(e));
    return { compression: kind, stream: head.stream.pipe(gunzip) };
  }
  head.stream.destroy();
  throw unsupportedCompression(kind);
}

/** Read at least `n` bytes (or to the end) and give back a stream that replays them first. */
export async function peek(input: Readable, n: number): Promise<{ bytes: Buffer; stream: Readable }> {
  const chunks: Buffer[] = [];
  let got = 0;
  await new Promise<void>((resolve, reject) => {
    const onReadable = (): void => {
      let c: Buffer | null;
      while (got < n && (c = input.read() as Buffer | null) !== null) {
        chunks.push(c);
        got += c.length;
      }
      if (got >= n) done();
    };
    const done = (): void => {
      input.off('readable', onReadable);
      input.off('end', done);
      input.off('error', onError);
      resolve();
    };
    const onError = (e: Error): void => {
      input.off('readable', onReadable);
      input.off('end', done);
      reject(e);
    };
    input.on('readable', onReadable);
    input.once('end', done);
    input.once('error', onError);
  });
  const bytes = Buffer.concat(chunks);
  const out = new PassThrough();
  if (bytes.length) out.write(bytes);
  if (input.readableEnded) {
    out.end();
  } else {
    input.on('error', (e) => out.destroy(e));
    input.pipe(out);
  }
  return { bytes, stream: out };
}
