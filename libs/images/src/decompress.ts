// Undo an archive's compression, detected from its magic bytes: gzip in-process (zlib); bzip2, xz
// and zstd through the system's decompressors when they are installed (Node 20's zlib has none of
// them), UNSUPPORTED with the detected kind otherwise. A decompressor that fails (corrupt or
// truncated input) fails the stream with INVALID_REQUEST, never a clean end.
import { spawn } from 'node:child_process';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { COMPRESSION_MAGIC_LENGTH, RegistryError, detectCompression, peek, unsupportedCompression, type Compression } from '@stevedore/oci';

const TOOLS: Partial<Record<Compression, string>> = { bzip2: 'bzip2', xz: 'xz', zstd: 'zstd' };

export function corrupt(kind: string, reason: string): RegistryError {
  return new RegistryError('INVALID_REQUEST', `${kind} input is corrupt or truncated: ${reason.slice(0, 300)}`, { compression: kind });
}

export async function decompress(input: Readable): Promise<{ compression: Compression; stream: Readable }> {
  const head = await peek(input, COMPRESSION_MAGIC_LENGTH);
  const kind = detectCompression(head.bytes);
  if (kind === 'none') return { compression: kind, stream: head.stream };
  if (kind === 'gzip') {
    const gunzip = createGunzip();
    const out = new PassThrough();
    head.stream.on('error', (e) => out.destroy(e));
    gunzip.on('error', (e) => out.destroy(RegistryError.is(e) ? e : corrupt('gzip', e.message)));
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
  const out = new PassThrough();
  const child = spawn(tool, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let ended = false;
  let code: number | null | undefined;
  const finish = (): void => {
    if (!ended || code === undefined) return;
    if (code === 0) out.end();
    else out.destroy(corrupt(kind, stderr.trim() || `${tool} exited with ${code}`));
  };
  child.on('error', (e: NodeJS.ErrnoException) => {
    input.destroy();
    out.destroy(e.code === 'ENOENT' ? unsupportedCompression(kind) : corrupt(kind, e.message));
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
  // The tool stops reading on bad input; its stdin then errors with EPIPE, which its exit code reports.
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

/** Passes bytes through and fails with PAYLOAD_TOO_LARGE once more than `limit` have passed. */
export class ByteLimit extends Transform {
  bytes = 0;
  constructor(
    private readonly limit: number,
    private readonly what: string,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      cb(new RegistryError('PAYLOAD_TOO_LARGE', `${this.what} exceeds the limit of ${this.limit} bytes`, { limit: this.limit }, 413));
      return;
    }
    cb(null, chunk);
  }
}

/** Counts bytes as they pass and reports them (throttled by the caller). */
export class ByteCounter extends Transform {
  bytes = 0;
  constructor(private readonly onBytes?: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.onBytes?.(chunk.length);
    cb(null, chunk);
  }
}
