// Streams with byte counting for progress bars, and safe writes of downloaded files.
import { createReadStream, createWriteStream, promises as fsp, statSync } from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CliError } from './errors';
import type { Progress } from './output';

export function counter(onBytes: (total: number) => void): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      onBytes(n);
      cb(null, chunk);
    },
  });
}

/** A file to upload: its size (for Content-Length) and a way to open it again for a retry. */
export function openUpload(file: string, progress?: Progress, phase = 'uploading'): { size: number; open: () => Readable } {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new CliError(`${file} is not a file`, 'INVALID_ARGUMENT');
    size = st.size;
  } catch (e) {
    if (e instanceof CliError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'ENOENT' ? `${file}: no such file` : `${file}: ${(e as Error).message}`,
      code ?? 'INVALID_ARGUMENT',
      code === 'ENOENT' ? 'check the path' : undefined,
    );
  }
  return {
    size,
    open: () => {
      const c = counter((n) => progress?.update(n, size, phase));
      createReadStream(file, { highWaterMark: 1 << 20 })
        .on('error', (e) => c.destroy(e))
        .pipe(c);
      return c;
    },
  };
}

/**
 * Standard input as an upload: its size is unknown (the body goes chunked) and it can be read once,
 * so a second open (a retry) fails rather than sending nothing.
 */
export function stdinUpload(
  stdin: NodeJS.ReadableStream,
  progress?: Progress,
  phase = 'uploading',
): { size: undefined; open: () => Readable } {
  let opened = false;
  return {
    size: undefined,
    open: () => {
      if (opened) throw new CliError('standard input cannot be sent twice', 'UNAVAILABLE', 'save it to a file and use -i FILE');
      opened = true;
      const c = counter((n) => progress?.update(n, undefined, phase));
      stdin.on('error', (e: Error) => c.destroy(e));
      stdin.pipe(c);
      return c;
    },
  };
}

/** Writes a stream to `file` through a temp file renamed at the end, so a failure leaves no half file. */
export async function saveStream(
  body: Readable,
  file: string,
  total: number | undefined,
  progress?: Progress,
  phase = 'downloading',
): Promise<number> {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.part`);
  let n = 0;
  try {
    await pipeline(
      body,
      counter((b) => {
        n = b;
        progress?.update(b, total, phase);
      }),
      createWriteStream(tmp),
    );
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  return n;
}
