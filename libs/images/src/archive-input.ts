// How the images routes read a tar a client sends (`docker import`, `docker load`): decompressed
// whatever its compression, stopped when it expands too far or too much (a bomb), and read with
// unionfs's one rule set (TarCheck), so a body that is not a tar fails at its first header block and
// an unsafe entry fails the request, with the reason, before anything is stored. The container
// archive routes apply the same rules through readLayer.
import { ByteCounter, decompressStream } from '@stevedore/oci';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DEFAULT_EXPANSION, ExpansionGuard, TarCheck } from '@stevedore/unionfs';

const noop = (): void => undefined;

export interface ArchiveInputLimits {
  /** Most uncompressed bytes. */
  maxBytes: number;
  /** Past 64 MiB, refuse an archive expanding more than this many times its compressed size. */
  maxExpansionRatio?: number;
  /** Device files (admins only). */
  allowDevices?: boolean;
}

/** The body as a checked, uncompressed tar stream: it fails with the reason at the first problem. */
export async function checkedTar(body: Readable, limits: ArchiveInputLimits): Promise<{ tar: Readable; check: TarCheck }> {
  // Compressed bytes are counted before the decompressor, so the ratio is measured on what arrived.
  const compressed = new ByteCounter();
  // Failures surface through the pipeline that reads each stream; a stream destroyed after that
  // pipeline settled must not crash the process with an unhandled 'error'.
  compressed.on('error', noop);
  body.on('error', (e) => compressed.destroy(e));
  const { stream } = await decompressStream(body.pipe(compressed));
  const guard = new ExpansionGuard(
    { ...DEFAULT_EXPANSION, maxBytes: limits.maxBytes, maxRatio: limits.maxExpansionRatio ?? DEFAULT_EXPANSION.maxRatio },
    () => compressed.bytes,
  );
  const check = new TarCheck({ allowDevices: limits.allowDevices });
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  out.on('error', noop);
  pipeline(stream, guard, check, out).catch((e: Error) => out.destroy(e));
  return { tar: out, check };
}

/**
 * The body's bytes as sent (to store as they are), and the check of them as a tar running beside:
 * a refused archive fails `bytes` too, so the upload stops with the check's reason.
 */
export function teeChecked(body: Readable, limits: ArchiveInputLimits): { bytes: Readable; checked: Promise<void>; abort(e: Error): void } {
  const bytes = new PassThrough({ highWaterMark: 1 << 20 });
  const toCheck = new PassThrough({ highWaterMark: 1 << 20 });
  bytes.on('error', noop);
  toCheck.on('error', noop);
  body.on('error', (e) => {
    bytes.destroy(e);
    toCheck.destroy(e);
  });
  // pipe() waits for the slower of the two: the check never falls behind what is stored.
  body.pipe(bytes);
  body.pipe(toCheck);
  const checked = (async () => {
    const { tar } = await checkedTar(toCheck, limits);
    await pipeline(tar, new Writable({ write: (_c, _e, cb) => cb() }));
  })();
  checked.catch((e: Error) => {
    body.unpipe(toCheck);
    bytes.destroy(e);
  });
  // When the store fails first, the check must not wait for the rest of the body.
  const abort = (e: Error) => {
    body.unpipe(toCheck);
    toCheck.destroy(e);
    bytes.destroy(e);
  };
  return { bytes, checked, abort };
}
