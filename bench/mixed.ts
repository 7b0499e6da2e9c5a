// bench/mixed.ts: a concurrent mixed workload against one registry, modelled on zot's `zb`: images
// of one layer (1, 10 and 100 MB by default) are pushed first; then, for each concurrency and each
// size, workers run operations for a fixed time, 75% pulls (GET manifest, GET its layer with the
// digest checked as it streams) and 25% pushes (a new layer of that size: POST, PUT ?digest=, then PUT
// manifest under a new tag). undici client; a push's bytes are a random prefix and a counter, so every
// push is a new digest at the cost of hashing 16 bytes (see CountedBlob in bench/client.ts).
//
// Usage: node -r @swc-node/register bench/mixed.ts URL [--user U --password P] [--sizes 1,10,100]
//          [--concurrency 1,8,16] [--duration 10] [--pull-percent 75] [--repo bench/mixed]
//   --sizes MB,...       layer sizes (1 MB = 2^20 bytes)
//   --concurrency N,...  parallel workers
//   --duration S         seconds of operations per (size, concurrency)
// Output: per (size, concurrency), "name value unit" lines on stdout (progress on stderr):
//   mixed_<size>mb_c<N>_ops_per_s   operations completed per second (pulls and pushes)
//   mixed_<size>mb_c<N>_p50_ms, _p99_ms   latency of one whole operation
//   mixed_<size>mb_c<N>_mbps        bytes moved (pulled + pushed) per second
//   mixed_<size>mb_c<N>_errors      operations that failed (the run goes on)
// A layer read back with another digest fails the run (exit 1).
import {
  CountedBlob,
  DigestMismatch,
  MiB,
  Registry,
  RequestFailed,
  imageConfig,
  imageManifest,
  log,
  metric,
  parseArgs,
  pushScope,
  quantile,
  sha256,
  usageOf,
  wholeNumber,
} from './client';

const say = (m: string) => log('mixed', m);
const now = () => Number(process.hrtime.bigint()) / 1e6;

function list(flags: Record<string, string>, name: string): number[] {
  const xs = flags[name].split(',').map(Number);
  if (!xs.length || xs.some((x) => !Number.isInteger(x) || x < 1)) {
    process.stderr.write(`--${name} must be whole numbers >= 1, comma-separated, not ${flags[name]}\n`);
    process.exit(2);
  }
  return xs;
}

interface Image {
  sizeMb: number;
  blob: CountedBlob;
  tag: string;
}

async function main(): Promise<void> {
  const { url, flags } = parseArgs(
    process.argv.slice(2),
    { user: '', password: '', sizes: '1,10,100', concurrency: '1,8,16', duration: '10', 'pull-percent': '75', repo: 'bench/mixed' },
    usageOf(__filename),
  );
  const sizes = list(flags, 'sizes');
  const concurrencies = list(flags, 'concurrency');
  const duration = wholeNumber(flags, 'duration', 1);
  const pullPercent = wholeNumber(flags, 'pull-percent', 0);
  const repo = flags.repo;
  const reg = new Registry({ url, user: flags.user || undefined, password: flags.password || undefined }, Math.max(...concurrencies));
  await reg.login(pushScope(repo));

  const config = imageConfig(`mixed ${process.pid} ${Math.random()}`);
  const configDesc = { digest: sha256(config), size: config.length };
  await reg.putBlob(repo, [config], configDesc.digest);
  let counter = 0;
  const push = async (img: Image, tag: string): Promise<number> => {
    const v = img.blob.variant(counter++);
    await reg.putBlob(repo, v.parts, v.digest);
    await reg.putManifest(repo, tag, imageManifest(configDesc, [{ digest: v.digest, size: img.blob.size }]));
    return img.blob.size;
  };
  const pull = async (img: Image): Promise<number> => {
    const manifest = await reg.getManifest(repo, img.tag);
    const layer = (JSON.parse(manifest.toString()) as { layers: Array<{ digest: string }> }).layers[0];
    return manifest.length + (await reg.getBlobChecked(repo, layer.digest));
  };

  const images: Image[] = [];
  for (const sizeMb of sizes) {
    say(`pushing the ${sizeMb} MB image`);
    const img = { sizeMb, blob: CountedBlob.random(sizeMb * MiB), tag: `m${sizeMb}` };
    await push(img, img.tag);
    images.push(img);
  }

  console.log(
    `# mixed ${reg.base} sizes=${sizes.join(',')} concurrency=${concurrencies.join(',')} duration=${duration}s pull=${pullPercent}%`,
  );
  for (const c of concurrencies) {
    for (const img of images) {
      const latencies: number[] = [];
      let errors = 0;
      let bytes = 0;
      let pulls = 0;
      const t0 = now();
      const deadline = t0 + duration * 1000;
      const worker = async (w: number) => {
        for (let i = 0; now() < deadline; i++) {
          const isPull = Math.random() * 100 < pullPercent;
          const s = now();
          try {
            // Awaited first, added after: `bytes += await ...` would add to the value read before the wait and lose other workers' bytes.
            const moved = isPull ? await pull(img) : await push(img, `m${img.sizeMb}-c${c}-w${w}-${i}`);
            bytes += moved;
            latencies.push(now() - s);
            if (isPull) pulls++;
          } catch (e) {
            if (!(e instanceof RequestFailed)) throw e;
            if (errors++ < 3) say(`${img.sizeMb} MB c${c}: ${e.message}`);
          }
        }
      };
      await Promise.all(Array.from({ length: c }, (_, w) => worker(w)));
      const secs = (now() - t0) / 1000;
      const name = `mixed_${img.sizeMb}mb_c${c}`;
      say(`${name}: ${latencies.length} operations (${pulls} pulls) in ${secs.toFixed(2)} s, ${errors} errors`);
      metric(`${name}_ops_per_s`, latencies.length / secs, 'op/s');
      metric(`${name}_p50_ms`, quantile(latencies, 0.5), 'ms');
      metric(`${name}_p99_ms`, quantile(latencies, 0.99), 'ms');
      metric(`${name}_mbps`, bytes / MiB / secs, 'MB/s');
      metric(`${name}_errors`, errors, 'count');
    }
  }
  await reg.close();
}

main().catch((e: Error) => {
  log('mixed', e instanceof DigestMismatch ? `wrong digest: ${e.message}` : (e.stack ?? e.message));
  process.exit(1);
});
