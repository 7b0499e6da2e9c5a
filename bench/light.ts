// bench/light.ts: server-side byte throughput of one registry, measured with a light client (undici,
// digests with node:crypto) so the figures are the server's, not skopeo's.
//
// Usage: node -r @swc-node/register bench/light.ts URL [--user U --password P] [--blob-mb 256] [--chunk-mb 16]
//          [--runs 3] [--get-concurrency 4] [--small 100] [--repo bench/light]
//   URL               registry base, e.g. http://127.0.0.1:5000
//   --user/--password Docker token auth (token from the WWW-Authenticate realm), or Basic if that is asked
//   --blob-mb N       size of the big random blob (1 MB = 2^20 bytes)
//   --chunk-mb N      PATCH size of the chunked upload
//   --runs N          repetitions of each big-blob measurement; the median is printed
//   --get-concurrency N  parallel GETs of the big blob
//   --small N         small images pushed one after the other
// Metrics (one "name value unit" line each on stdout, progress on stderr):
//   blob_put_mono_mbps     POST, then one PUT ?digest= with the whole blob (a new digest each run)
//   blob_put_chunked_mbps  POST, PATCH chunks with Content-Range, final PUT ?digest=
//   blob_get_c4_mbps       N parallel GETs of the blob, each checked against its digest as it streams
//   small_push_per_s       per image: HEAD, POST+PUT of a new 1 KB layer and of a new config, PUT manifest
//   small_*_p50_ms         the median latency of each of those steps: a blob HEAD, a blob upload (POST+PUT), a manifest PUT
//   light_errors           requests that answered other than expected (the run goes on)
// A blob read back with another digest fails the run (exit 1).
import {
  CountedBlob,
  DigestMismatch,
  MiB,
  Registry,
  RequestFailed,
  imageConfig,
  imageManifest,
  log,
  median,
  metric,
  parseArgs,
  pushScope,
  randomBuffer,
  sha256,
  usageOf,
  wholeNumber,
} from './client';

const USAGE = usageOf(__filename);

const say = (m: string) => log('light', m);
const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

async function main(): Promise<void> {
  const { url, flags } = parseArgs(
    process.argv.slice(2),
    {
      user: '',
      password: '',
      'blob-mb': '256',
      'chunk-mb': '16',
      runs: '3',
      'get-concurrency': '4',
      small: '100',
      repo: 'bench/light',
    },
    USAGE,
  );
  const blobMb = wholeNumber(flags, 'blob-mb', 1);
  const chunkMb = wholeNumber(flags, 'chunk-mb', 1);
  const runs = wholeNumber(flags, 'runs', 1);
  const getConcurrency = wholeNumber(flags, 'get-concurrency', 1);
  const small = wholeNumber(flags, 'small', 0);
  const repo = flags.repo;
  const reg = new Registry({ url, user: flags.user || undefined, password: flags.password || undefined }, Math.max(8, getConcurrency));
  await reg.login(pushScope(repo));

  say(`making a ${blobMb} MB random blob`);
  const blob = CountedBlob.random(blobMb * MiB);
  const mb = blob.size / MiB;
  let counter = 0;

  // ---- monolithic PUT
  const mono: number[] = [];
  let pushed: string | undefined;
  for (let i = 0; i < runs; i++) {
    const v = blob.variant(counter++);
    const t0 = process.hrtime.bigint();
    try {
      await reg.putBlob(repo, v.parts, v.digest);
      mono.push(mb / seconds(t0));
      pushed = v.digest;
      say(`monolithic PUT ${i + 1}/${runs}: ${mono[mono.length - 1].toFixed(1)} MB/s`);
    } catch (e) {
      if (!(e instanceof RequestFailed)) throw e;
      say(`monolithic PUT ${i + 1}/${runs} failed: ${e.message}`);
    }
  }

  // ---- chunked PATCH + PUT (the blob is made contiguous outside the timing, so chunks are views)
  const chunked: number[] = [];
  for (let i = 0; i < runs; i++) {
    const v = blob.variant(counter++);
    const data = Buffer.concat(v.parts);
    const t0 = process.hrtime.bigint();
    try {
      await reg.putBlobChunked(repo, data, v.digest, chunkMb * MiB);
      chunked.push(mb / seconds(t0));
      say(`chunked upload ${i + 1}/${runs}: ${chunked[chunked.length - 1].toFixed(1)} MB/s`);
    } catch (e) {
      if (!(e instanceof RequestFailed)) throw e;
      say(`chunked upload ${i + 1}/${runs} failed: ${e.message}`);
    }
  }

  // ---- parallel GETs of one pushed blob, each digest checked on the fly
  const gets: number[] = [];
  if (pushed) {
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      const got = await Promise.allSettled(Array.from({ length: getConcurrency }, () => reg.getBlobChecked(repo, pushed!)));
      const s = seconds(t0);
      const wrong = got.find((g) => g.status === 'rejected' && g.reason instanceof DigestMismatch);
      if (wrong) throw (wrong as PromiseRejectedResult).reason;
      const bytes = got.reduce((n, g) => n + (g.status === 'fulfilled' ? g.value : 0), 0);
      for (const g of got) if (g.status === 'rejected' && !(g.reason instanceof RequestFailed)) throw g.reason;
      gets.push(bytes / MiB / s);
      say(`${getConcurrency} parallel GETs ${i + 1}/${runs}: ${gets[gets.length - 1].toFixed(1)} MB/s`);
    }
  } else say('no blob was pushed: no GET measurement');

  // ---- small pushes: the whole sequence of a client pushing a new one-layer image
  let smallOk = 0;
  let smallS = 0;
  // Each step's latency, so a difference in pushes/s can be placed (the blob upload or the manifest PUT).
  const steps = { head: [] as number[], upload: [] as number[], manifest: [] as number[] };
  const timed = async <T>(into: number[], step: () => Promise<T>): Promise<T> => {
    const t = process.hrtime.bigint();
    const r = await step();
    into.push(Number(process.hrtime.bigint() - t) / 1e6);
    return r;
  };
  if (small > 0) {
    const images = Array.from({ length: small }, (_, i) => {
      const layer = randomBuffer(1024);
      const config = imageConfig(`light ${process.pid} ${i} ${Math.random()}`);
      const blobs = [
        { bytes: layer, digest: sha256(layer), size: layer.length },
        { bytes: config, digest: sha256(config), size: config.length },
      ];
      return { blobs, manifest: imageManifest(blobs[1], [blobs[0]]) };
    });
    const t0 = process.hrtime.bigint();
    for (const [i, img] of images.entries()) {
      try {
        for (const b of img.blobs)
          if (!(await timed(steps.head, () => reg.hasBlob(repo, b.digest))))
            await timed(steps.upload, () => reg.putBlob(repo, [b.bytes], b.digest));
        await timed(steps.manifest, () => reg.putManifest(repo, `s${Date.now().toString(36)}-${i}`, img.manifest));
        smallOk++;
      } catch (e) {
        if (!(e instanceof RequestFailed)) throw e;
        say(`small push ${i + 1} failed: ${e.message}`);
      }
    }
    smallS = seconds(t0);
    say(`${smallOk}/${small} small pushes in ${smallS.toFixed(2)} s`);
  }

  await reg.close();
  console.log(`# light ${reg.base} blob_mb=${blobMb} chunk_mb=${chunkMb} runs=${runs} get_concurrency=${getConcurrency} small=${small}`);
  metric('blob_size', mb, 'MB');
  metric('blob_put_mono_mbps', median(mono), 'MB/s');
  metric('blob_put_chunked_mbps', median(chunked), 'MB/s');
  metric(`blob_get_c${getConcurrency}_mbps`, median(gets), 'MB/s');
  metric('small_push_per_s', smallS > 0 ? smallOk / smallS : 0, 'push/s');
  metric('small_head_p50_ms', median(steps.head), 'ms');
  metric('small_blob_upload_p50_ms', median(steps.upload), 'ms');
  metric('small_manifest_put_p50_ms', median(steps.manifest), 'ms');
  metric('light_errors', reg.errors, 'count');
}

main().catch((e: Error) => {
  log('light', e instanceof DigestMismatch ? `wrong digest: ${e.message}` : (e.stack ?? e.message));
  process.exit(1);
});
