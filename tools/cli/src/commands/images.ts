// `images`, `tag`, `rmi`, `inspect`, `history`: the image verbs over /api/v1/images. An image ID (or
// a prefix of one) names the image in every repository the caller may pull (Context.lookupImage):
// inspect shows all its tags and digests, rmi removes it from all of them.
import type { Command } from 'commander';
import { formatLocalRef, parseLocalRef } from '../args';
import { isMissingImage, noSuchImage, type Context } from '../context';
import { CliError, eachArg, formatError } from '../errors';
import { compileTemplate } from '../format-template';
import { humanSize, shortId, table, timeAgo } from '../output';
import type { HistoryEntry, ImageSummary } from '../api-client';
import type { ImageId } from '@stevedore/api-contract';

/** A failure of a call on image `arg`: a missing tag, manifest or repository is Docker's `No such image: <arg>`. */
const orNoSuchImage =
  (arg: string) =>
  (e: unknown): never => {
    throw isMissingImage(e) ? noSuchImage(arg) : e;
  };

/**
 * `docker rmi ID`: with more than one tag on the image it must be forced (Docker's conflict line);
 * then every holder is deleted with its tags, `Untagged:` per tag and `Deleted: <ID>` once the
 * image is gone from every repository the caller sees. Holders the caller may not delete are
 * reported and left, and the command fails.
 */
async function removeById(c: Context, image: ImageId, force: boolean): Promise<void> {
  const tags = image.holders.flatMap((h) => h.tags.map((t) => `${h.repository}:${t}`));
  if (tags.length > 1 && !force)
    throw new CliError(
      `conflict: unable to delete ${shortId(image.id)} (must be forced) - image is referenced in multiple repositories`,
      undefined,
      undefined,
      1,
      409,
    );
  const failures: string[] = [];
  for (const h of image.holders) {
    try {
      const res = await c.api.removeImage(`${h.repository}@${h.digest}`, true);
      for (const u of res.untagged) c.print(`Untagged: ${u}`);
    } catch (e) {
      failures.push(`${h.repository}@${h.digest}: ${formatError(e).replace(/^Error: /, '')}`);
    }
  }
  if (failures.length) {
    for (const f of failures.slice(0, -1)) c.note(`Error: ${f}`);
    throw new CliError(failures[failures.length - 1]);
  }
  c.print(`Deleted: ${image.id}`);
}

function imageRow(i: ImageSummary) {
  return {
    Repository: i.repository,
    Tag: i.tag,
    ID: shortId(i.id),
    Id: i.id,
    Digest: i.digest,
    CreatedAt: i.created ?? '',
    CreatedSince: timeAgo(i.created),
    Size: humanSize(i.uncompressedSize ?? i.compressedSize),
    CompressedSize: humanSize(i.compressedSize),
    Platforms: i.platforms ?? [],
  };
}

export function registerImages(program: Command, ctx: () => Context): void {
  program
    .command('images')
    .alias('image-ls')
    .description('List images (one row per repository and tag)')
    .argument('[repository]', 'only this repository')
    .option('-q, --quiet', 'only image IDs')
    .option('--digests', 'show digests')
    .option('--no-trunc', 'full image IDs')
    .option('--json', 'JSON, one array')
    .option('--format <template>', 'Go template per row: .Repository .Tag .ID .Digest .CreatedSince .Size')
    .addHelpText(
      'after',
      "\nExamples:\n  $ stevedore images\n  $ stevedore images music51555/bh --format '{{.Repository}}:{{.Tag}} {{.ID}}'",
    )
    .action(
      async (
        repository: string | undefined,
        o: { quiet?: boolean; digests?: boolean; trunc?: boolean; json?: boolean; format?: string },
      ) => {
        const c = ctx();
        const items = await c.allImages(repository ? parseLocalRef(repository, c.server.key).name : undefined);
        if (o.json) return c.print(JSON.stringify(items, null, 2));
        const rows = items.map(imageRow);
        if (o.quiet) {
          const seen = new Set<string>();
          for (const r of rows) {
            const id = o.trunc === false ? r.Id : r.ID;
            if (!seen.has(id)) c.print(id);
            seen.add(id);
          }
          return;
        }
        if (o.format) {
          const t = compileTemplate(o.format);
          for (const r of rows) c.print(t(r));
          return;
        }
        const header = ['REPOSITORY', 'TAG', ...(o.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
        c.io.stdout.write(
          table(
            header,
            rows.map((r) => [
              r.Repository,
              r.Tag,
              ...(o.digests ? [r.Digest] : []),
              o.trunc === false ? r.Id : r.ID,
              r.CreatedSince,
              r.Size,
            ]),
          ),
        );
      },
    );

  program
    .command('tag')
    .description('Create a tag TARGET that refers to SOURCE (moves TARGET if it named another image)')
    .argument('<source>', 'image: NAME[:TAG], NAME@DIGEST or an image ID')
    .argument('<target>', 'NAME[:TAG]')
    .addHelpText(
      'after',
      '\nExamples:\n  $ stevedore tag busy_httpd:v0.2 music51555/bh:latest\n  $ stevedore tag 87f8dd508d21 music51555/bh:v0.2',
    )
    .action(async (source: string, target: string) => {
      const c = ctx();
      const dst = parseLocalRef(target, c.server.key, { defaultTag: true });
      if (dst.digest) throw new CliError('a tag target cannot name a digest', 'INVALID_ARGUMENT', 'write NAME:TAG');
      await c.api.tag(await c.resolveImage(source, { defaultTag: true }), formatLocalRef(dst)).catch(orNoSuchImage(source));
    });

  program
    .command('rmi')
    .description('Remove images: a NAME:TAG is untagged; NAME@DIGEST (or an ID) deletes the image')
    .argument('<image...>', 'images to remove')
    .option('-f, --force', 'delete a digest even when tags name it; an ID with several tags, from every repository')
    .addHelpText(
      'after',
      '\nExamples:\n  $ stevedore rmi music51555/bh:latest\n  $ stevedore rmi -f music51555/bh@sha256:4f1c...\n  $ stevedore rmi -f d27bc2159689',
    )
    .action(async (refs: string[], o: { force?: boolean }) => {
      const c = ctx();
      await eachArg(c, refs, async (r) => {
        const { ref, byId } = await c.lookupImage(r);
        if (byId) return removeById(c, byId, !!o.force);
        const res = await c.api.removeImage(ref, !!o.force).catch(orNoSuchImage(r));
        for (const u of res.untagged) c.print(`Untagged: ${u}`);
        for (const d of res.deleted) c.print(`Deleted: ${d}`);
      });
    });

  program
    .command('inspect')
    .description('Show images as docker inspect does (a JSON array), or format each with --format')
    .argument('<image...>', 'images to inspect')
    .option('-f, --format <template>', 'Go template, e.g. {{.Config.Cmd}} or {{json .Config}}')
    .addHelpText(
      'after',
      "\nExamples:\n  $ stevedore inspect busy_httpd:v0.2\n  $ stevedore inspect -f '{{.Author}} {{.Config.Cmd}}' busy_httpd:v0.2\n  $ stevedore inspect --format '{{json .Config}}' busy_httpd:v0.2",
    )
    .action(async (refs: string[], o: { format?: string }) => {
      const c = ctx();
      const template = o.format ? compileTemplate(o.format) : undefined;
      const results: unknown[] = [];
      let error: unknown;
      for (const r of refs) {
        try {
          const { ref, byId } = await c.lookupImage(r, { defaultTag: true });
          const data = await c.api.inspectImage(ref).catch(orNoSuchImage(r));
          if (byId) {
            // By ID: the image as every repository the caller may pull holds it.
            data.RepoTags = byId.holders.flatMap((h) => h.tags.map((t) => `${h.repository}:${t}`));
            data.RepoDigests = byId.holders.map((h) => `${h.repository}@${h.digest}`);
          }
          if (template) c.print(template(data));
          else results.push(data);
        } catch (e) {
          error = e;
          if (refs.length > 1) c.note(formatError(e));
        }
      }
      if (!template && (results.length || !error)) c.print(JSON.stringify(results, null, 4));
      if (error) {
        if (refs.length === 1) throw error;
        throw new CliError('some images could not be inspected');
      }
    });

  program
    .command('history')
    .description('Show the history of an image, newest first')
    .argument('<image>', 'image')
    .option('--no-trunc', 'do not truncate output')
    .option('-q, --quiet', 'only image IDs')
    .option('--json', 'JSON')
    .option('--format <template>', 'Go template per entry: .ID .CreatedSince .CreatedBy .Size .Comment')
    .addHelpText('after', '\nExample:\n  $ stevedore history busy_httpd:v0.2')
    .action(async (ref: string, o: { trunc?: boolean; quiet?: boolean; json?: boolean; format?: string }) => {
      const c = ctx();
      const entries = await c.api.history(await c.resolveImage(ref, { defaultTag: true })).catch(orNoSuchImage(ref));
      if (o.json) return c.print(JSON.stringify(entries, null, 2));
      const rows = entries.map((h: HistoryEntry) => {
        const id = h.Id;
        // Moby's history gives Unix seconds; 0 is an unknown time.
        const iso = h.Created ? new Date(h.Created * 1000).toISOString() : undefined;
        const by = h.CreatedBy;
        return {
          ID: id === '<missing>' ? id : o.trunc === false ? id : shortId(id),
          CreatedAt: iso ?? '',
          CreatedSince: timeAgo(iso),
          CreatedBy: o.trunc === false || by.length <= 45 ? by : by.slice(0, 44) + '…',
          Size: humanSize(h.Size),
          Comment: h.Comment,
        };
      });
      if (o.quiet) return rows.forEach((r) => c.print(r.ID));
      if (o.format) {
        const t = compileTemplate(o.format);
        return rows.forEach((r) => c.print(t(r)));
      }
      c.io.stdout.write(
        table(
          ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'],
          rows.map((r) => [r.ID, r.CreatedSince, r.CreatedBy, r.Size, r.Comment]),
        ),
      );
    });
}
