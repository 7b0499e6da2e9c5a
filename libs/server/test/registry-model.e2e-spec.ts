// A stateful property test of the registry against a plain in-memory model, on a real all-in-one
// platform: fast-check runs random sequences of monolithic and chunked uploads (some abandoned),
// mounts, manifest puts, tag moves, tag and manifest deletes, GC runs, a process restart and a Redis
// FLUSHALL + reindex; after every step, every tag the model holds pulls with the model's digest and
// every deleted tag or manifest answers 404. Each sequence works in its own repository.
// STEVEDORE_MODEL_RUNS raises the number of sequences (100 by default).
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { flushEverywhere, openTestRedis, startStevedore, type StevedoreUnderTest } from '@stevedore/testing';

jest.setTimeout(900_000);
const RUNS = Number(process.env.STEVEDORE_MODEL_RUNS ?? 100);
const sha256 = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

interface Model {
  repo: string;
  /** Blobs the repository holds (digest -> bytes). */
  blobs: Map<string, Buffer>;
  /** tag -> manifest digest. */
  tags: Map<string, string>;
  /** Manifests the repository holds (digest -> bytes). */
  manifests: Map<string, Buffer>;
  deletedTags: Set<string>;
  deletedManifests: Set<string>;
}

interface Real {
  s: StevedoreUnderTest;
  call(
    method: string,
    p: string,
    body?: Buffer,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Headers; body: Buffer }>;
}

const TAGS = ['a', 'b', 'c', 'latest'];

async function check(m: Model, r: Real): Promise<void> {
  for (const [tag, digest] of m.tags) {
    const got = await r.call('GET', `/v2/${m.repo}/manifests/${tag}`, undefined, { accept: MANIFEST });
    expect({ tag, status: got.status, digest: got.headers.get('docker-content-digest') }).toEqual({ tag, status: 200, digest });
    expect(got.body.equals(m.manifests.get(digest)!)).toBe(true);
  }
  for (const tag of m.deletedTags)
    if (!m.tags.has(tag))
      expect({ tag, status: (await r.call('GET', `/v2/${m.repo}/manifests/${tag}`)).status }).toEqual({ tag, status: 404 });
  for (const d of m.deletedManifests)
    if (!m.manifests.has(d))
      expect({ d, status: (await r.call('GET', `/v2/${m.repo}/manifests/${d}`)).status }).toEqual({ d, status: 404 });
  for (const [d, bytes] of m.blobs) {
    const got = await r.call('GET', `/v2/${m.repo}/blobs/${d}`);
    expect({ d, status: got.status }).toEqual({ d, status: 200 });
    expect(got.body.equals(bytes)).toBe(true);
  }
}

class MonolithicUpload implements fc.AsyncCommand<Model, Real> {
  constructor(readonly size: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const data = randomBytes(this.size);
    const res = await r.call('POST', `/v2/${m.repo}/blobs/uploads/?digest=${sha256(data)}`, data);
    expect(res.status).toBe(201);
    m.blobs.set(sha256(data), data);
    await check(m, r);
  }
  toString = () => `monolithic(${this.size})`;
}

class ChunkedUpload implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly chunks: number,
    readonly abandon: boolean,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const parts = Array.from({ length: this.chunks }, () => randomBytes(1000 + Math.floor(Math.random() * 5000)));
    const all = Buffer.concat(parts);
    const post = await r.call('POST', `/v2/${m.repo}/blobs/uploads/`);
    expect(post.status).toBe(202);
    let loc = post.headers.get('location')!;
    let offset = 0;
    for (const p of parts) {
      const res = await r.call('PATCH', loc, p, {
        'content-type': 'application/octet-stream',
        'content-range': `${offset}-${offset + p.length - 1}`,
      });
      expect(res.status).toBe(202);
      offset += p.length;
      loc = res.headers.get('location')!;
    }
    if (this.abandon) {
      // Never completed: the blob must not exist.
      expect((await r.call('HEAD', `/v2/${m.repo}/blobs/${sha256(all)}`)).status).toBe(404);
    } else {
      const put = await r.call('PUT', `${loc}${loc.includes('?') ? '&' : '?'}digest=${sha256(all)}`);
      expect(put.status).toBe(201);
      m.blobs.set(sha256(all), all);
    }
    await check(m, r);
  }
  toString = () => `chunked(${this.chunks}${this.abandon ? ', abandoned' : ''})`;
}

class Mount implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.blobs.size > 0;
  async run(m: Model, r: Real): Promise<void> {
    const [d, bytes] = [...m.blobs][this.pick % m.blobs.size];
    const to = `${m.repo}-mirror`;
    const res = await r.call('POST', `/v2/${to}/blobs/uploads/?mount=${d}&from=${m.repo}`);
    expect(res.status).toBe(201);
    const got = await r.call('GET', `/v2/${to}/blobs/${d}`);
    expect(got.body.equals(bytes)).toBe(true);
    await check(m, r);
  }
  toString = () => `mount(${this.pick})`;
}

class PutManifest implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly tag: string,
    readonly layerPick: number,
  ) {}
  check = (m: Readonly<Model>) => m.blobs.size > 0;
  async run(m: Model, r: Real): Promise<void> {
    const blobs = [...m.blobs];
    const [cfg, cfgBytes] = blobs[this.layerPick % blobs.length];
    const [layer, layerBytes] = blobs[(this.layerPick + 1) % blobs.length];
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfg, size: cfgBytes.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: layerBytes.length }],
        annotations: { n: String(Math.random()) },
      }),
    );
    const res = await r.call('PUT', `/v2/${m.repo}/manifests/${this.tag}`, body, { 'content-type': MANIFEST });
    expect(res.status).toBe(201);
    const d = sha256(body);
    m.manifests.set(d, body);
    m.tags.set(this.tag, d);
    m.deletedManifests.delete(d);
    await check(m, r);
  }
  toString = () => `put(${this.tag}, ${this.layerPick})`;
}

class MoveTag implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly from: number,
    readonly to: string,
  ) {}
  check = (m: Readonly<Model>) => m.tags.size > 0;
  async run(m: Model, r: Real): Promise<void> {
    const d = [...m.tags.values()][this.from % m.tags.size];
    const res = await r.call('PUT', `/v2/${m.repo}/manifests/${this.to}`, m.manifests.get(d)!, { 'content-type': MANIFEST });
    expect(res.status).toBe(201);
    m.tags.set(this.to, d);
    await check(m, r);
  }
  toString = () => `move(${this.from} -> ${this.to})`;
}

class DeleteTag implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.tags.size > 0;
  async run(m: Model, r: Real): Promise<void> {
    const tag = [...m.tags.keys()][this.pick % m.tags.size];
    expect((await r.call('DELETE', `/v2/${m.repo}/manifests/${tag}`)).status).toBe(202);
    m.tags.delete(tag);
    m.deletedTags.add(tag);
    await check(m, r);
  }
  toString = () => `untag(${this.pick})`;
}

class DeleteManifest implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.manifests.size > 0;
  async run(m: Model, r: Real): Promise<void> {
    const d = [...m.manifests.keys()][this.pick % m.manifests.size];
    expect((await r.call('DELETE', `/v2/${m.repo}/manifests/${d}`)).status).toBe(202);
    m.manifests.delete(d);
    m.deletedManifests.add(d);
    for (const [t, td] of [...m.tags]) {
      if (td === d) {
        m.tags.delete(t);
        m.deletedTags.add(t);
      }
    }
    await check(m, r);
  }
  toString = () => `delete(${this.pick})`;
}

class GcRun implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    // The default grace period: nothing this young is collected, and nothing tagged ever is.
    const res = await r.call('POST', '/api/v1/gc', Buffer.from('{}'), { 'content-type': 'application/json' });
    expect(res.status).toBe(202);
    const id = JSON.parse(res.body.toString()).id;
    for (let i = 0; i < 300; i++) {
      const st = JSON.parse((await r.call('GET', `/api/v1/gc/runs/${id}`)).body.toString());
      if (st.state === 'completed' || st.state === 'failed') {
        expect(st.state).toBe('completed');
        break;
      }
      await new Promise((res2) => setTimeout(res2, 100));
    }
    await check(m, r);
  }
  toString = () => 'gc';
}

class Restart implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    await r.s.restart();
    await check(m, r);
  }
  toString = () => 'restart';
}

class FlushAndReindex implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    // Every master on a cluster (STEVEDORE_TEST_REDIS=cluster).
    const redis = await openTestRedis(r.s.redisUrl);
    await flushEverywhere(redis).finally(() => redis.quit());
    await r.s.reindex();
    // The process's in-memory caches predate the flush: a restart is what an operator does next.
    await r.s.restart();
    await check(m, r);
  }
  toString = () => 'flushall+reindex';
}

describe('the registry against a model', () => {
  let s: StevedoreUnderTest;
  let real: Real;
  let n = 0;

  beforeAll(async () => {
    s = await startStevedore();
    const auth = 'Basic ' + Buffer.from(`${s.admin.user}:${s.admin.password}`).toString('base64');
    real = {
      s,
      async call(method, p, body, headers = {}) {
        const res = await fetch(s.url + p, { method, body, headers: { authorization: auth, ...headers }, redirect: 'manual' });
        return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
      },
    };
  });
  afterAll(() => s?.stop());

  it(`holds for ${RUNS} random sequences of uploads, mounts, tags, deletes, GC, restarts and reindexes`, async () => {
    const tag = fc.constantFrom(...TAGS);
    const commands = [
      fc.integer({ min: 1, max: 20_000 }).map((size) => new MonolithicUpload(size)),
      fc.tuple(fc.integer({ min: 1, max: 3 }), fc.boolean()).map(([c, a]) => new ChunkedUpload(c, a)),
      fc.nat().map((p) => new Mount(p)),
      fc.tuple(tag, fc.nat()).map(([t, p]) => new PutManifest(t, p)),
      fc.tuple(fc.nat(), tag).map(([f, t]) => new MoveTag(f, t)),
      fc.nat().map((p) => new DeleteTag(p)),
      fc.nat().map((p) => new DeleteManifest(p)),
      fc.constant(new GcRun()),
    ];
    // Restarts and reindexes cost seconds: about one sequence in twelve has one.
    const rare = [fc.constant(new Restart()), fc.constant(new FlushAndReindex())];
    await fc.assert(
      fc.asyncProperty(
        fc.commands(commands, { maxCommands: 10 }),
        fc.oneof({ weight: 11, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.tuple(fc.oneof(...rare), fc.nat({ max: 9 })) }),
        async (cmds, extra) => {
          const list = [...cmds];
          if (extra) list.splice(extra[1] % (list.length + 1), 0, extra[0]);
          const model: Model = {
            repo: `model/r${++n}`,
            blobs: new Map(),
            tags: new Map(),
            manifests: new Map(),
            deletedTags: new Set(),
            deletedManifests: new Set(),
          };
          await fc.asyncModelRun(() => ({ model, real }), list);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
