// bench/ceiling-registry.ts: the thinnest registry bench/light.ts can talk to, to measure what this
// machine and that client allow at all: a ceiling for the light suite's figures, not a registry.
// No auth, no Redis, no manifests kept apart from blobs, no validation beyond the digest.
//
// Usage: node -r @swc-node/register bench/ceiling-registry.ts --port P --dir D [--store memory|disk]
//          [--fsync on|off] [--processes N]
//   --store memory  blobs are kept in this process's memory: what node:http and the client cost
//   --store disk    blobs are written to D/<digest> through a temp file and a rename, as Stevedore and
//                   distribution place them; GETs read the file in 1 MiB reads
//   --fsync on      disk only: the blob's file is fsynced before its rename (Stevedore's write order);
//                   off is distribution's (no fsync)
//   --processes N   disk only: N HTTP processes sharing the port (node:cluster), as the all-in-one runs
// Disk writes keep reading while one write is in flight and write what arrived meanwhile with one
// writev (up to 4 MiB waiting): awaiting each ~64 KB socket chunk's write before reading the next held
// a 128 MB PUT at ~160 MB/s here against ~280 MB/s this way, and a ceiling should be the best a thin
// server does. (Stevedore's write path gets the same read-ahead from a 1 MiB stream buffer.)
// Every PUT ?digest= hashes the body with node:crypto and refuses a mismatch (400), so the ceiling
// pays for what a registry must. Chunked uploads keep their running hash in the process that took
// the chunk; a process whose state is behind the file (another process took a chunk) reads back and
// hashes only the bytes it missed, as Stevedore does.
import cluster from 'node:cluster';
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const port = Number(args.get('port') ?? 5000);
const dir = args.get('dir') ?? '/tmp/ceiling-registry';
const store = args.get('store') ?? 'disk';
const fsync = args.get('fsync') === 'on';
const processes = store === 'disk' ? Number(args.get('processes') ?? 1) : 1;
if (!['memory', 'disk'].includes(store) || !(port > 0) || !(processes >= 1)) {
  process.stderr.write('usage: ceiling-registry.ts --port P --dir D [--store memory|disk] [--fsync on|off] [--processes N]\n');
  process.exit(2);
}

interface Upload {
  hash: Hash;
  size: number;
  parts: Buffer[];
}
const uploads = new Map<string, Upload>();
/** Memory store: each blob as the parts it arrived in (no concatenated copy); only the newest big one is kept. */
const blobs = new Map<string, Buffer[]>();
const BIG = 16 << 20;
const BLOB = /^\/v2\/(.+)\/(blobs|manifests)\/([^/]+)$/;
const UPLOAD = /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/;

/** Streams the request body into the upload: the running hash, and the file (disk) or the parts (memory). */
async function receive(req: IncomingMessage, id: string, up: Upload): Promise<void> {
  const fh = store === 'disk' ? await fsp.open(join(dir, 'uploads', id), 'a') : undefined;
  try {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let inflight: Promise<unknown> | undefined;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      up.hash.update(chunk);
      up.size += chunk.length;
      if (!fh) up.parts.push(chunk);
      else {
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= 4 << 20 && inflight) await inflight;
        if (!inflight || pendingBytes >= 4 << 20) {
          const batch = pending;
          pending = [];
          pendingBytes = 0;
          inflight = (inflight ?? Promise.resolve()).then(() => fh.writev(batch)).then(() => (inflight = undefined));
        }
      }
    }
    if (inflight) await inflight;
    if (fh && pending.length) await fh.writev(pending);
  } finally {
    await fh?.close();
  }
}

/** The upload's state in this process, or rebuilt from its file when another process took chunks since. */
async function uploadOf(id: string): Promise<Upload> {
  let up = uploads.get(id);
  const onDisk = store === 'disk' ? (await fsp.stat(join(dir, 'uploads', id))).size : undefined;
  if (!up || (onDisk !== undefined && onDisk < up.size)) {
    up = { hash: createHash('sha256'), size: 0, parts: [] };
    uploads.set(id, up);
  }
  if (onDisk !== undefined && onDisk > up.size) {
    // Only the bytes this process has not hashed yet, as Stevedore reads back only the chunks it missed.
    for await (const chunk of createReadStream(join(dir, 'uploads', id), {
      start: up.size,
      highWaterMark: 1 << 20,
    }) as AsyncIterable<Buffer>) {
      up.hash.update(chunk);
      up.size += chunk.length;
    }
  }
  return up;
}

async function place(id: string, up: Upload, digest: string): Promise<boolean> {
  uploads.delete(id);
  const got = 'sha256:' + up.hash.digest('hex');
  const tmp = join(dir, 'uploads', id);
  if (got !== digest) {
    if (store === 'disk') await fsp.rm(tmp, { force: true });
    return false;
  }
  if (store === 'memory') {
    blobs.set(digest, up.parts);
    // Big blobs beyond the newest eight are dropped (the light suite GETs its last monolithic one).
    const big = [...blobs].filter(([, parts]) => parts.reduce((n, b) => n + b.length, 0) > BIG);
    for (const [d] of big.slice(0, Math.max(0, big.length - 8))) blobs.delete(d);
  } else {
    if (fsync) {
      const fh = await fsp.open(tmp, 'r+');
      await fh.sync();
      await fh.close();
    }
    await fsp.rename(tmp, join(dir, digest));
  }
  return true;
}

async function serveBlob(res: ServerResponse, digest: string, head: boolean): Promise<void> {
  if (store === 'memory') {
    const parts = blobs.get(digest);
    if (!parts) return void res.writeHead(404, { 'content-length': 0 }).end();
    res.writeHead(200, { 'content-length': parts.reduce((n, b) => n + b.length, 0), 'docker-content-digest': digest });
    if (head) return void res.end();
    return void Readable.from(parts).pipe(res);
  }
  const file = join(dir, digest);
  const st = await fsp.stat(file).catch(() => undefined);
  if (!st) return void res.writeHead(404, { 'content-length': 0 }).end();
  res.writeHead(200, { 'content-length': st.size, 'docker-content-digest': digest });
  if (head) return void res.end();
  createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const path = url.pathname;
  if (path === '/v2/' || path === '/v2') return void res.writeHead(200, { 'content-length': 0 }).end();
  let m = UPLOAD.exec(path);
  if (m) {
    const [, repo, given] = m;
    if (req.method === 'POST') {
      const id = randomUUID();
      if (store === 'disk') await fsp.writeFile(join(dir, 'uploads', id), '');
      uploads.set(id, { hash: createHash('sha256'), size: 0, parts: [] });
      return void res.writeHead(202, { location: `/v2/${repo}/blobs/uploads/${id}`, 'content-length': 0 }).end();
    }
    const up = await uploadOf(given);
    await receive(req, given, up);
    if (req.method === 'PATCH') {
      return void res
        .writeHead(202, { location: `/v2/${repo}/blobs/uploads/${given}`, range: `0-${up.size - 1}`, 'content-length': 0 })
        .end();
    }
    const digest = url.searchParams.get('digest') ?? '';
    if (!(await place(given, up, digest))) return void res.writeHead(400, { 'content-length': 0 }).end();
    return void res.writeHead(201, { location: `/v2/${repo}/blobs/${digest}`, 'docker-content-digest': digest, 'content-length': 0 }).end();
  }
  m = BLOB.exec(path);
  if (m && (req.method === 'GET' || req.method === 'HEAD')) return serveBlob(res, m[3], req.method === 'HEAD');
  if (m && m[2] === 'manifests' && req.method === 'PUT') {
    // A manifest is stored as a blob under its digest; the tag is not kept (the light suite never reads it).
    const id = randomUUID();
    if (store === 'disk') await fsp.writeFile(join(dir, 'uploads', id), '');
    const up: Upload = { hash: createHash('sha256'), size: 0, parts: [] };
    await receive(req, id, up);
    const digest = 'sha256:' + up.hash.copy().digest('hex');
    await place(id, up, digest);
    return void res.writeHead(201, { 'docker-content-digest': digest, 'content-length': 0 }).end();
  }
  res.writeHead(404, { 'content-length': 0 }).end();
}

if (cluster.isPrimary && processes > 1) {
  for (let i = 0; i < processes; i++) cluster.fork();
} else {
  void fsp.mkdir(join(dir, 'uploads'), { recursive: true }).then(() =>
    createServer((req, res) =>
      handle(req, res).catch((e: Error) => {
        process.stderr.write(`ceiling-registry: ${req.method} ${req.url}: ${e.message}\n`);
        if (!res.headersSent) res.writeHead(500, { 'content-length': 0 });
        res.end();
      }),
    ).listen(port, '127.0.0.1'),
  );
}
process.on('SIGTERM', () => process.exit(0));
