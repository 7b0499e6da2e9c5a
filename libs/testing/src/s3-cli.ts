// Start or stop the run's shared S3 from a shell (tools/scripts/test.sh):
//   node -r @swc-node/register libs/testing/src/s3-cli.ts start DIR   -> STEVEDORE_TEST_S3_* lines
//   node -r @swc-node/register libs/testing/src/s3-cli.ts stop DIR
import { startS3, stopS3 } from './s3-server';

async function main(): Promise<void> {
  const [cmd, dir] = process.argv.slice(2);
  if (!dir || (cmd !== 'start' && cmd !== 'stop')) {
    console.error('usage: s3-cli.ts start|stop DIR');
    process.exit(2);
  }
  if (cmd === 'stop') return stopS3(dir);
  const s3 = await startS3(dir);
  console.log(`STEVEDORE_TEST_S3_ENDPOINT=${s3.endpoint}`);
  console.log(`STEVEDORE_TEST_S3_ACCESS_KEY=${s3.accessKey}`);
  console.log(`STEVEDORE_TEST_S3_SECRET_KEY=${s3.secretKey}`);
}

main().catch((e: Error) => {
  console.error(`s3-cli: ${e.message}`);
  process.exit(1);
});
