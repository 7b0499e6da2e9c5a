// `save`, `load` and `import`: archives moved as server-side jobs (exports, imports) with progress
// on the upload, the job and the download.
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { collectChange, formatLocalRef, parseLocalRef, saveCompression } from '../args';
import { isMissingImage, noSuchImage, type Context } from '../context';
import { CliError } from '../errors';
import { waitForJob } from '../jobs';
import { createProgress } from '../output';
import { counter, openUpload, saveStream, stdinUpload } from '../transfer';

export function registerArchive(program: Command, ctx: () => Context): void {
  program
    .command('save')
    .description('Save one or more images (with their tags) to a tar archive (docker-archive + OCI layout)')
    .argument('<image...>', 'images: NAME (every tag), NAME:TAG, NAME@DIGEST or an image ID')
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .option('--compress <kind>', "none, gzip or zstd (default: by FILE's suffix: .gz/.tgz gzip, .zst/.tzst zstd, .tar or none plain)")
    .option('--gzip', 'same as --compress gzip')
    .option('-q, --quiet', 'no progress')
    .addHelpText(
      'after',
      '\nExamples:\n  $ stevedore save -o bh.gz music51555/bh music51555/bh:v0.2\n  $ stevedore save -o bh.tar.zst music51555/bh\n  $ stevedore save busybox:latest > busybox.tar',
    )
    .action(async (refs: string[], o: { output?: string; compress?: string; gzip?: boolean; quiet?: boolean }) => {
      const c = ctx();
      if (!o.output && c.io.stdout.isTTY)
        throw new CliError('refusing to write an archive to a terminal', 'INVALID_ARGUMENT', 'use -o FILE or redirect stdout');
      const compression = saveCompression(o.output, o);
      const references: string[] = [];
      // A bare NAME means every tag of it (as docker save does); keep it without a tag.
      for (const r of refs) references.push(await c.resolveImage(r));
      const job = await c.api.createExport(references, compression).catch((e: unknown) => {
        throw refs.length === 1 && isMissingImage(e) ? noSuchImage(refs[0]) : e;
      });
      const bar = createProgress('Exporting', { quiet: o.quiet, bytes: true });
      await waitForJob({ status: () => c.api.exportStatus(job.id), progress: bar, what: `save of ${refs.join(', ')}` });
      const res = await c.api.exportArchive(job.id);
      const total = Number(res.headers['content-length']) || undefined;
      const dl = createProgress('Downloading', { quiet: o.quiet, bytes: true });
      if (o.output) await saveStream(res.body, o.output, total, dl);
      else
        await pipeline(
          res.body,
          counter((n) => dl.update(n, total, 'downloading')),
          c.io.stdout,
          { end: false },
        );
      dl.stop();
      await c.api.deleteExport(job.id).catch(() => undefined);
    });

  program
    .command('load')
    .description('Load images from a tar archive (plain, gzip, bzip2, xz or zstd; docker-archive or OCI layout)')
    .option('-i, --input <file>', 'read from FILE instead of stdin (- is stdin)')
    .option('--repository <name>', 'where images without a name go')
    .option('-q, --quiet', 'no progress')
    .addHelpText('after', '\nExamples:\n  $ stevedore load -i bh.gz\n  $ stevedore load < bh.tar.zst')
    .action(async (o: { input?: string; repository?: string; quiet?: boolean }) => {
      const c = ctx();
      const fromStdin = o.input === undefined || o.input === '-';
      if (fromStdin && c.io.stdin.isTTY)
        throw new CliError('requested load from stdin, but stdin is a terminal', 'INVALID_ARGUMENT', 'use -i FILE or redirect stdin');
      const what = fromStdin ? 'stdin' : o.input;
      // As docker load: progress bars on a terminal, otherwise only the `Loaded image:` lines.
      const quiet = o.quiet || !(c.io.stdout.isTTY && c.io.stderr.isTTY);
      const up = createProgress('Uploading', { quiet, bytes: true });
      const file = fromStdin ? stdinUpload(c.io.stdin, up) : openUpload(o.input as string, up);
      await c.api.http.prime();
      const repository = o.repository ? parseLocalRef(o.repository, c.server.key).name : undefined;
      // The server reads the archive while it arrives: a refused one fails here, not as a job.
      const job = await c.api.createImport(file.open, file.size, repository).catch((e: unknown) => {
        up.stop();
        if (e instanceof CliError && e.status !== undefined && e.status < 500 && e.status !== 401) {
          throw new CliError(`load of ${what} failed: ${e.message}`, e.code, e.hint, e.exitCode, e.status);
        }
        throw e;
      });
      up.stop();
      const bar = createProgress('Loading', { quiet, bytes: true });
      const done = await waitForJob({ status: () => c.api.importStatus(job.id), progress: bar, what: `load of ${what}` });
      for (const line of done.result?.loaded ?? []) c.print(line);
      for (const s of done.result?.skipped ?? []) c.note(`Skipped ${s.id}: ${s.reason}`);
    });

  program
    .command('import')
    .description('Create an image from a root filesystem tarball (docker import)')
    .argument('<file>', 'tarball (plain, gzip, bzip2, xz or zstd); - is stdin')
    .argument('<reference>', 'NAME[:TAG]')
    .option('-c, --change <instruction>', 'Dockerfile instruction to apply (repeatable)', collectChange, [] as string[])
    .option('-m, --message <message>', 'commit message')
    .option('--platform <os/arch>', 'platform of the image')
    .option('-q, --quiet', 'no progress')
    .addHelpText('after', "\nExample:\n  $ stevedore import rootfs.tar.gz base:1 -c 'CMD [\"/bin/sh\"]' -c 'ENV LANG=C.UTF-8'")
    .action(async (fileArg: string, reference: string, o: { change: string[]; message?: string; platform?: string; quiet?: boolean }) => {
      const c = ctx();
      const ref = formatLocalRef(parseLocalRef(reference, c.server.key, { defaultTag: true }));
      const up = createProgress('Importing', { quiet: o.quiet, bytes: true });
      const file = fileArg === '-' ? stdinUpload(c.io.stdin, up) : openUpload(fileArg, up);
      await c.api.http.prime();
      // The history says where it came from, as docker's does: `Imported from rootfs.tar.gz` (or `-`).
      const res = await c.api.importRootfs(
        file.open,
        { ref, change: o.change, message: o.message, platform: o.platform, source: fileArg },
        file.size,
      );
      up.stop();
      c.print(res.id);
    });
}
