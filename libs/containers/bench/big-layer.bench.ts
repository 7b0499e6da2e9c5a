// Memory and time of the image filesystem routes (/api/v1/images/fs, /changes, /file) over one big
// layer, against a real platform (startStevedore: one 'all' process, its own redis-server, storage
// under /tmp). Not a test of `npm test`: it writes a ~1 GB tarball and runs for minutes.
//
//   STEVEDORE_BIG_LAYER=1 node -r @swc-node/register libs/containers/bench/big-layer.bench.ts [one-file|many-files]...
//
// Knobs: BIG_LAYER_MB (bytes of file contents, default 1024), BIG_LAYER_FILES (the many-files
// shape's file count, default 100000), TMPDIR (where the tarball is written; deleted after).
// Each phase resets the server's peak RSS (`5 > /proc/<pid>/clear_refs`) and reports VmHWM after
// it, so every figure is the peak of that phase alone. Prints one JSON line per phase and a table.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, createWriteStream } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import Redis from 'ioredis';
import tar from 'tar-stream';
import { http, pushBlob, startStevedore, type StevedoreUnderTest } from '@stevedore/testing';

if (process.env.STEVEDORE_BIG_LAYER !== '1') {
  console.error('big-layer: set STEVEDORE_BIG_LAYER=1 to run (it writes ~1 GB under TMPDIR and takes minutes)');
  process.exit(2);
}

const MB = 2 ** 20;
const CONTENT_BYTES = Number(process.env.BIG_LAYER_MB ?? 1024) * MB;
const FILES = Number(process.env.BIG_LAYER_FILES ?? 100_000);
const DEEP = Array.from({ length: 12 }, (_, i) => `d${i + 1}`).join('/');

type Shape = 'one-file' | 'many-files';

/** A pass-through that hashes what flows (sha256) and counts it. */
class Hashing extends Transform {
  private readonly h = createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.h.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
  digest(): string {
    return `sha256:${this.h.digest('hex')}`;
  }
}

interface Tarball {
  file: string;
  digest: string;
  diffId: string;
  size: number;
  uncompressed: number;
  /** A file of the layer and its sha256, to download and check. */
  probe: { path: string; digest: string; size: number };
  /** A directory deep in the tree, to browse. */
  deepDir: string;
  entries: number;
}

/** Write the layer as tar | gzip -1 (streamed: neither side holds the layer in memory). */
async function writeTarball(shape: Shape, dir: string): Promise<Tarball> {
  const file = path.join(dir, `${shape}.tar.gz`);
  const pack = tar.pack();
  const diff = new Hashing();
  const stored = new Hashing();
  const done = pipeline(pack, diff, createGzip({ level: 1 }), stored, createWriteStream(file));
  const dirEntry = (name: string) =>
    new Promise<void>((res, rej) => pack.entry({ name, type: 'directory', mode: 0o755, mtime: new Date(0) }, (e) => (e ? rej(e) : res())));
  const fileEntry = (name: string, body: Buffer) =>
    new Promise<void>((res, rej) => pack.entry({ name, mode: 0o644, mtime: new Date(0) }, body, (e) => (e ? rej(e) : res())));
  let entries = 0;
  let probe = { path: '', digest: '', size: 0 };
  // A deep chain of directories with one small file at the bottom, in both shapes.
  for (let i = 1; i <= 12; i++) {
    await dirEntry(`${DEEP.split('/').slice(0, i).join('/')}/`);
    entries++;
  }
  await fileEntry(`${DEEP}/leaf.txt`, Buffer.from('at the bottom\n'));
  entries++;
  if (shape === 'one-file') {
    await dirEntry('big/');
    const name = 'big/random.bin';
    const h = createHash('sha256');
    // Cast: tar-stream types its entry as a streamx Writable, which is Node-compatible at runtime.
    const body = pack.entry({ name, size: CONTENT_BYTES, mode: 0o644, mtime: new Date(0) }) as unknown as Writable;
    const wrote = new Promise<void>((res, rej) => body.on('finish', res).on('error', rej));
    for (let left = CONTENT_BYTES; left > 0;) {
      const chunk = randomBytes(Math.min(left, 4 * MB));
      h.update(chunk);
      left -= chunk.length;
      if (!body.write(chunk)) await new Promise((r) => body.once('drain', r));
    }
    body.end();
    await wrote;
    entries += 2;
    probe = { path: name, digest: `sha256:${h.digest('hex')}`, size: CONTENT_BYTES };
  } else {
    // FILES files of equal size under many/aNN/bNN/: 100 top directories, each with up to 100.
    const size = Math.floor(CONTENT_BYTES / FILES);
    const perB = Math.max(1, Math.ceil(FILES / 10_000));
    await dirEntry('many/');
    entries++;
    let lastA = '';
    let lastB = '';
    for (let i = 0; i < FILES; i++) {
      const b = Math.floor(i / perB);
      const a = `many/a${String(Math.floor(b / 100)).padStart(2, '0')}`;
      const bdir = `${a}/b${String(b % 100).padStart(2, '0')}`;
      if (a !== lastA) {
        await dirEntry(`${a}/`);
        entries++;
        lastA = a;
      }
      if (bdir !== lastB) {
        await dirEntry(`${bdir}/`);
        entries++;
        lastB = bdir;
      }
      const body = randomBytes(size);
      const name = `${bdir}/f${String(i).padStart(6, '0')}.bin`;
      await fileEntry(name, body);
      entries++;
      if (i === Math.floor(FILES / 2)) probe = { path: name, digest: `sha256:${createHash('sha256').update(body).digest('hex')}`, size };
    }
  }
  pack.finalize();
  await done;
  return {
    file,
    digest: stored.digest(),
    diffId: diff.digest(),
    size: stored.size,
    uncompressed: diff.size,
    probe,
    deepDir: shape === 'one-file' ? DEEP : path.posix.dirname(probe.path),
    entries,
  };
}

/** Monolithic push of a file, streamed from disk. */
async function pushFile(sut: StevedoreUnderTest, name: string, t: Tarball): Promise<void> {
  const auth = 'Basic ' + Buffer.from(`${sut.admin.user}:${sut.admin.password}`).toString('base64');
  const post = await fetch(`${sut.url}/v2/${name}/blobs/uploads/`, { method: 'POST', headers: { authorization: auth } });
  if (post.status !== 202) throw new Error(`POST upload: ${post.status} ${await post.text()}`);
  const loc = post.headers.get('location')!;
  const url = new URL(loc, sut.url);
  url.searchParams.set('digest', t.digest);
  const put = await fetch(url, {
    method: 'PUT',
    headers: { authorization: auth, 'content-type': 'application/octet-stream', 'content-length': String(t.size) },
    body: Readable.toWeb(createReadStream(t.file)) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  if (put.status !== 201) throw new Error(`PUT upload: ${put.status} ${await put.text()}`);
}

async function pushImage(sut: StevedoreUnderTest, name: string, t: Tarball): Promise<void> {
  await pushFile(sut, name, t);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [t.diffId] } }),
  );
  const c = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await pushBlob(sut.url, name, config), size: config.length };
  const layers = [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: t.digest, size: t.size }];
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: c, layers });
  const put = await http(sut.url, 'PUT', `/v2/${name}/manifests/v1`, manifest, {
    'content-type': 'application/vnd.oci.image.manifest.v1+json',
  });
  if (put.status !== 201) throw new Error(`PUT manifest: ${put.status} ${put.body}`);
}

const kb = (field: string, pid: number) =>
  Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

interface Phase {
  shape: Shape;
  phase: string;
  seconds: number;
  peakRssMiB: number;
  rssAfterMiB: number;
  note?: string;
}

async function phase(sut: StevedoreUnderTest, shape: Shape, name: string, run: () => Promise<string | void>): Promise<Phase> {
  const pid = sut.pid();
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
  const t0 = performance.now();
  const note = await run();
  const seconds = (performance.now() - t0) / 1000;
  const p: Phase = {
    shape,
    phase: name,
    seconds: Math.round(seconds * 100) / 100,
    peakRssMiB: Math.round(kb('VmHWM', pid) / 1024),
    rssAfterMiB: Math.round(kb('VmRSS', pid) / 1024),
    ...(note ? { note } : {}),
  };
  console.log(JSON.stringify(p));
  return p;
}

/** A GET with no client timeout (fetch gives up on headers after 300 s; a first index build may take longer). */
function get(sut: StevedoreUnderTest, route: string): Promise<IncomingMessage> {
  const auth = 'Basic ' + Buffer.from(`${sut.admin.user}:${sut.admin.password}`).toString('base64');
  return new Promise((resolve, reject) =>
    request(`${sut.url}${route}`, { headers: { authorization: auth } }, resolve)
      .on('error', reject)
      .end(),
  );
}

async function getOk(sut: StevedoreUnderTest, route: string): Promise<Buffer> {
  const r = await get(sut, route);
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  if (r.statusCode !== 200) throw new Error(`GET ${route}: ${r.statusCode} ${body.toString().slice(0, 300)}`);
  return body;
}

async function measure(shape: Shape, dir: string): Promise<Phase[]> {
  const t0 = performance.now();
  const t = await writeTarball(shape, dir);
  console.error(
    `big-layer: ${shape}: ${t.file} ${(t.size / MB).toFixed(0)} MiB gzip, ${(t.uncompressed / MB).toFixed(0)} MiB tar, ` +
      `${t.entries} entries, written in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const sut = await startStevedore({ wiring: 'all' });
  const out: Phase[] = [];
  const ref = encodeURIComponent(`big/${shape}:v1`);
  const fsRoute = (p: string) => `/api/v1/images/fs?ref=${ref}&path=${encodeURIComponent(p)}`;
  try {
    out.push(await phase(sut, shape, 'idle (started)', async () => undefined));
    out.push(await phase(sut, shape, 'push layer (monolithic PUT)', () => pushImage(sut, `big/${shape}`, t)));
    const children = (b: Buffer) => `${(JSON.parse(b.toString()) as { children: unknown[] }).children.length} children`;
    out.push(await phase(sut, shape, 'browse / (first: builds the index)', async () => children(await getOk(sut, fsRoute('/')))));
    out.push(await phase(sut, shape, 'browse / (again)', async () => children(await getOk(sut, fsRoute('/')))));
    out.push(await phase(sut, shape, `browse /${t.deepDir}`, async () => children(await getOk(sut, fsRoute(`/${t.deepDir}`)))));
    out.push(
      await phase(sut, shape, 'changes (layer 0)', async () => {
        const b = await getOk(sut, `/api/v1/images/changes?ref=${ref}`);
        return `${(JSON.parse(b.toString()) as { changes: unknown[] }).changes.length} changes, ${(b.length / MB).toFixed(1)} MiB JSON`;
      }),
    );
    out.push(
      await phase(sut, shape, 'changes (layer 0, again)', async () => {
        await getOk(sut, `/api/v1/images/changes?ref=${ref}`);
      }),
    );
    // Does memory settle, or grow with every request?
    out.push(
      await phase(sut, shape, 'changes (layer 0) x5 more', async () => {
        const times: number[] = [];
        for (let i = 0; i < 5; i++) {
          const t1 = performance.now();
          await getOk(sut, `/api/v1/images/changes?ref=${ref}`);
          times.push(Math.round(performance.now() - t1) / 1000);
        }
        return `each ${times.join(', ')} s`;
      }),
    );
    out.push(
      await phase(sut, shape, `download /${t.probe.path}`, async () => {
        const r = await get(sut, `/api/v1/images/file?ref=${ref}&path=${encodeURIComponent(t.probe.path)}`);
        if (r.statusCode !== 200) throw new Error(`download: ${r.statusCode}`);
        const h = new Hashing();
        await pipeline(r, h, new Writable({ write: (_c, _e, cb) => cb() }));
        if (h.digest() !== t.probe.digest || h.size !== t.probe.size) throw new Error(`download: got ${h.size} bytes ${h.digest()}`);
        return `${h.size} bytes, sha256 checked`;
      }),
    );
    const redis = new Redis(sut.redisUrl, { lazyConnect: true });
    await redis.connect();
    const keys = await redis.keys('*layer-index*');
    const redisBytes = keys.length ? await redis.call('MEMORY', 'USAGE', keys[0]) : 0;
    const indexFile = path.join(sut.env.STEVEDORE_DATA_DIR, 'storage/containers/layers/sha256', t.digest.slice(7), 'index.json');
    const indexBytes = (() => {
      try {
        return statSync(indexFile).size;
      } catch {
        return -1;
      }
    })();
    await redis.quit();
    console.error(`big-layer: ${shape}: index in storage ${indexBytes} bytes; Redis keys ${keys.join(', ')} ${String(redisBytes)} bytes`);
    await sut.restart();
    out.push(
      await phase(sut, shape, 'browse / (after a restart: index from Redis/storage)', async () => children(await getOk(sut, fsRoute('/')))),
    );
    out.push(await phase(sut, shape, 'browse / (after a restart, again)', async () => children(await getOk(sut, fsRoute('/')))));
  } finally {
    await sut.stop();
    rmSync(t.file, { force: true });
  }
  return out;
}

async function main(): Promise<void> {
  const shapes = (process.argv.slice(2).length ? process.argv.slice(2) : ['one-file', 'many-files']) as Shape[];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'stevedore-big-layer-'));
  const all: Phase[] = [];
  try {
    for (const s of shapes) all.push(...(await measure(s, dir)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('\n| shape | phase | seconds | peak RSS (MiB) | RSS after (MiB) | note |\n| --- | --- | ---: | ---: | ---: | --- |');
  for (const p of all) console.log(`| ${p.shape} | ${p.phase} | ${p.seconds} | ${p.peakRssMiB} | ${p.rssAfterMiB} | ${p.note ?? ''} |`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
