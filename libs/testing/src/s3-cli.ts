// Start or stop a shared S3 (Ceph RGW) from a shell, e.g. tools/scripts/test.sh:
//   node -r @swc-node/register libs/testing/src/s3-cli.ts start DIR   -> STEVEDORE_TEST_S3_* lines on stdout
//   node -r @swc-node/register libs/testing/src/s3-cli.ts stop DIR
// The daemons fork away from this process and keep running after it exits, until `stop DIR`.
// (`watch PID DIR` is the watchdog s3-server.ts starts: it stops DIR once process PID is gone.)
import { rmSync } from 'node:fs';
import { startCephRgw, stopCephRgw } from './ceph-rgw';
import { isAlive } from './net';

async function main(): Promise<void> {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === 'start' && args.length === 1) {
    const s3 = await startCephRgw(args[0]);
    process.stdout.write(
      [
        `STEVEDORE_TEST_S3_ENDPOINT=${s3.endpoint}`,
        `STEVEDORE_TEST_S3_ACCESS_KEY=${s3.accessKey}`,
        `STEVEDORE_TEST_S3_SECRET_KEY=${s3.secretKey}`,
        `STEVEDORE_TEST_S3_REGION=${s3.region}`,
        '',
      ].join('\n'),
    );
    return;
  }
  if (cmd === 'stop' && args.length === 1) return stopCephRgw(args[0]);
  if (cmd === 'watch' && args.length === 2) {
    const [pid, dir] = [Number(args[0]), args[1]];
    while (isAlive(pid)) await new Promise((r) => setTimeout(r, 1000));
    await stopCephRgw(dir);
    rmSync(`${dir}.watchdog`, { force: true });
    return;
  }
  process.stderr.write('usage: s3-cli.ts start DIR | stop DIR\n');
  process.exit(2);
}

main().catch((e: Error) => {
  process.stderr.write(`s3-cli: ${e.message}\n`);
  process.exit(1);
});
