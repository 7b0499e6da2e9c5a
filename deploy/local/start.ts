// Start the rig by hand and keep it running until Ctrl-C:
//   node -r @swc-node/register deploy/local/start.ts [--redis sentinel|single|cluster] [--storage filesystem|s3]
//     [--gateways N] [--blob-services N] [--metadata-services N] [--commit-workers N] [--keep]
// Prints the URL, the admin's credentials, REDIS_URL and where haproxy.cfg and the logs are.
import { REDIS_MODES, type RedisMode } from './redis';
import { startRig, type RigOptions, type Service } from './rig';

const FLAGS: Record<string, Service> = {
  '--gateways': 'gateway',
  '--blob-services': 'blob-service',
  '--metadata-services': 'metadata-service',
  '--commit-workers': 'commit-worker',
};

function parse(argv: string[]): RigOptions {
  const opts: RigOptions = { replicas: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1] ?? '';
    if (a === '--keep') {
      opts.keep = true;
      continue;
    }
    if (a === '--redis' && REDIS_MODES.includes(v as RedisMode)) opts.redis = v as RedisMode;
    else if (a === '--storage' && (v === 'filesystem' || v === 's3')) opts.storage = v;
    else if (FLAGS[a] && /^[1-9]\d*$/.test(v)) opts.replicas![FLAGS[a]] = Number(v);
    else throw new Error(`unknown argument ${a} ${v} (see the comment at the top of deploy/local/start.ts)`);
    i++;
  }
  return opts;
}

async function main(): Promise<void> {
  const rig = await startRig(parse(process.argv.slice(2)));
  console.log(
    [
      `stevedore rig up: ${rig.url}`,
      `  admin:       ${rig.admin.user} / ${rig.admin.password}`,
      `  REDIS_URL:   ${rig.redis.url} (${rig.redis.mode})`,
      `  replicas:    ${rig
        .names()
        .map((n) => `${n} ${rig.urlOf(n)}`)
        .join(', ')}`,
      `  haproxy.cfg: ${rig.haproxyCfg}`,
      `  logs:        ${rig.dir}/logs`,
      '  Ctrl-C stops everything.',
    ].join('\n'),
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log('stopping the rig');
    rig.stop().then(
      () => process.exit(0),
      (e) => {
        console.error(e);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
