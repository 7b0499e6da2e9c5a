// Detect an input's compression from its magic bytes and undo it: gzip in-process (zlib); bzip2,
// xz and zstd through the system's decompressors when they are installed (Node 20's zlib has none
// of them, and the npm ports are unmaintained or native builds), UNSUPPORTED with the detected kind
// otherwise. A decompressor that fails (corrupt or truncated input) fails the stream with
// INVALID_REQUEST, never a clean end. The one decompressor of every path: layers, archives, imports.
import { spawn } from 'node:child_process';
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
    `${kind}-compressed input was detected but no ${kind} decompressor is installed here; decompress it first`,
    { compression: kind },
    415,
  );
}

const TOOLS: Partial<Record<Compression, string>> = { bzip2: 'bzip2', xz: 'xz', zstd: 'zstd' };

export function corruptCompressed(kind: string, reason: string): RegistryError {
  return new RegistryError('INVALID_REQUEST', `${kind} input is corrupt or truncated: ${reason.slice(0, 300)}`, { compression: kind });
}

/** Read the first bytes of `input`, detect its compression, and return a stream of the decompressed bytes. */
export async function decompressStream(input: Readable): Promise<{ compression: Compression; stream: Readable }> {
  const head = await peek(input, COMPRESSION_MAGIC_LENGTH);
  const kind = detectCompression(head.bytes);
  if (kind === 'none') return { compression: kind, stream: head.stream };
  if (kind === 'gzip') {
    const gunzip = createGunzip();
    const out = new PassThrough();
    head.stream.on('error', (e) => out.destroy(e));
    gunzip.on('error', (e) => out.destroy(RegistryError.is(e) ? e : corruptCompressed('gzip', e.message)));
    head.stream.pipe(gunzip).pipe(out);
    return { compression: kind, stream: out };
  }
  const tool = TOOLS[kind];
  if (!tool) {
    head.stream.destroy();
    throw unsupportedCompression(kind);
  }
  return { compression: kind, stream: viaTool(tool, kind, head.stream) };
}

function viaTool(tool: string, kind: Compression, input: Readable): Readable {
  return throughProcess(tool, ['-dc'], input, {
    spawnError: (e) => (e.code === 'ENOENT' ? unsupportedCompression(kind) : corruptCompressed(kind, e.message)),
    exitError: (code, stderr) => corruptCompressed(kind, stderr || `${tool} exited with ${code}`),
  });
}

/**
 * `input` filtered through a program's stdin and stdout (`zstd -dc`, `zstd -c`): the output ends
 * only once the program has exited 0 and written everything; a failure of the input, the program or
 * its exit fails the output, and destroying the output kills the program.
 */
export function throughProcess(
  program: string,
  args: string[],
  input: Readable,
  errors: { spawnError(e: NodeJS.ErrnoException): Error; exitError(code: number | null, stderr: string): Error },
): Readable {
  const out = new PassThrough();
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let ended = false;
  let code: number | null | undefined;
  const finish = (): void => {
    if (!ended || code === undefined) return;
    if (code === 0) out.end();
    else out.destroy(errors.exitError(code, stderr.trim()));
  };
  child.on('error', (e: NodeJS.ErrnoException) => {
    input.destroy();
    out.destroy(errors.spawnError(e));
  });
  child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
  child.stdout.on('end', () => {
    ended = true;
    finish();
  });
  child.on('close', (c) => {
    code = c;
    finish();
  });
  child.stdout.pipe(out, { end: false });
  // A program that stops reading (bad input) makes its stdin error with EPIPE; its exit code reports it.
  child.stdin.on('error', () => undefined);
  input.on('error', (e) => {
    child.kill('SIGKILL');
    out.destroy(e);
  });
  input.pipe(child.stdin);
  out.on('close', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return out;
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
