// Small builders for specs: entries with defaults and content put into a memory store.
import { Readable, Writable } from 'node:stream';
import * as tar from 'tar-stream';
import { MemoryContentStore } from '../src/content-store';
import { makeEntry, type Entry, type EntryType } from '../src/entry';
import type { FsView } from '../src/fs-view';

export const dir = (path: string, fields: Partial<Entry> = {}): Entry => makeEntry(path, 'directory', fields);
export const wh = (path: string): Entry => makeEntry(path, 'whiteout', { mode: 0 });
export const sym = (path: string, target: string): Entry => makeEntry(path, 'symlink', { linkname: target });
export const node = (path: string, type: EntryType, fields: Partial<Entry> = {}): Entry => makeEntry(path, type, fields);

export async function file(store: MemoryContentStore, path: string, text: string, fields: Partial<Entry> = {}): Promise<Entry> {
  const ref = await store.put(text);
  return makeEntry(path, 'file', { size: ref.size, digest: ref.digest, ...fields });
}

/** A view as 'path type' lines, easy to read in a failing assertion. */
export function describeView(view: FsView): string[] {
  return [...view.walk()].map((e) => `${e.path} ${e.type}${e.linkname ? ` -> ${e.linkname}` : ''}`);
}

export function collect(): { sink: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  return { sink, bytes: () => Buffer.concat(chunks) };
}

/** A raw tar from headers, bypassing the library's own safety, to feed hostile input to readLayer. */
export async function rawTar(items: Array<{ header: Partial<tar.Header> & { name: string }; body?: string }>): Promise<Readable> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c) => chunks.push(c as Buffer));
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const { header, body } of items) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({ mtime: new Date(0), ...header }, body ?? '', (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await done;
  return Readable.from([Buffer.concat(chunks)]);
}
