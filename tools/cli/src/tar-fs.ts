// `cp` between the local disk and a container: a local file or directory packed as a tar stream
// (top entry renamed as asked), and a tar stream extracted under a directory with unsafe names refused.
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { CliError } from './errors';

/** Packs `src` (file, directory or symlink) with its top entry named `as`. Owner is root, as docker cp writes it. */
export function packPath(src: string, as: string): Readable {
  const pack = tar.pack();
  const walk = async (abs: string, name: string): Promise<void> => {
    const st = await fsp.lstat(abs);
    const base = { name, mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0 };
    if (st.isDirectory()) {
      pack.entry({ ...base, type: 'directory' });
      for (const child of (await fsp.readdir(abs)).sort()) await walk(path.join(abs, child), `${name}/${child}`);
    } else if (st.isSymbolicLink()) {
      pack.entry({ ...base, type: 'symlink', linkname: await fsp.readlink(abs) });
    } else if (st.isFile()) {
      await new Promise<void>((resolve, reject) => {
        const entry = pack.entry({ ...base, type: 'file', size: st.size }, (err) => (err ? reject(err) : resolve()));
        pipeline(createReadStream(abs), entry).catch(reject);
      });
    }
    // Sockets, devices and fifos are skipped, as docker cp does for special files on the client.
  };
  walk(src, as).then(
    () => pack.finalize(),
    (e: unknown) => pack.destroy(e as Error),
  );
  // Cast: tar-stream is typed with streamx streams, which are Node-compatible at runtime but not Node Readable types.
  return pack as unknown as Readable;
}

/** Refuses names that would land outside the destination. */
export function safeEntryName(name: string): string {
  const n = name.replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/+$/, '');
  if (!n || n.startsWith('/') || n.split('/').includes('..'))
    throw new CliError(`refusing unsafe path "${name}" in the archive`, 'INVALID_ARCHIVE');
  return n;
}

/**
 * Extracts a tar under `destDir`; when `renameTop` is given, the top component of every name is
 * replaced by it (copying `NAME:/etc/hosts` to `./h` writes `./h`). Returns the number of entries.
 */
export async function extractTar(input: Readable, destDir: string, renameTop?: string): Promise<number> {
  const extract = tar.extract();
  let count = 0;
  const dirs: Array<{ p: string; mtime?: Date }> = [];
  const root = path.resolve(destDir);
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      (async () => {
        let name = safeEntryName(header.name);
        if (renameTop) {
          const i = name.indexOf('/');
          name = i < 0 ? renameTop : `${renameTop}/${name.slice(i + 1)}`;
        }
        const target = path.resolve(root, name);
        if (target !== root && !target.startsWith(root + path.sep))
          throw new CliError(`refusing unsafe path "${header.name}"`, 'INVALID_ARCHIVE');
        const mode = header.mode ?? 0o644;
        switch (header.type) {
          case 'directory':
            await fsp.mkdir(target, { recursive: true, mode: mode & 0o7777 || 0o755 });
            dirs.push({ p: target, mtime: header.mtime });
            stream.resume();
            break;
          case 'file':
          case 'contiguous-file':
            await fsp.mkdir(path.dirname(target), { recursive: true });
            await fsp.rm(target, { force: true });
            await pipeline(stream, createWriteStream(target, { mode: mode & 0o7777 }));
            if (header.mtime) await fsp.utimes(target, header.mtime, header.mtime);
            break;
          case 'symlink':
            await fsp.mkdir(path.dirname(target), { recursive: true });
            await fsp.rm(target, { force: true });
            await fsp.symlink(header.linkname ?? '', target);
            stream.resume();
            break;
          case 'link': {
            const from = path.resolve(root, safeEntryName(header.linkname ?? ''));
            if (!from.startsWith(root + path.sep)) throw new CliError(`refusing unsafe link "${header.linkname}"`, 'INVALID_ARCHIVE');
            await fsp.rm(target, { force: true });
            await fsp.link(from, target);
            stream.resume();
            break;
          }
          default:
            stream.resume();
        }
        count++;
      })().then(
        () => next(),
        (e: unknown) => {
          stream.resume();
          next(e as Error);
        },
      );
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  await Promise.all([pipeline(input, extract), done]);
  for (const d of dirs.reverse()) if (d.mtime) await fsp.utimes(d.p, d.mtime, d.mtime).catch(() => undefined);
  return count;
}
