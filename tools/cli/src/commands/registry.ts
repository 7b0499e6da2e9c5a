// `pull` (bring an image from an upstream registry into the platform, through its pull-through
// /v2 API) and `push` (copy a local image to an upstream, as a replication job on the server).
import type { Command } from 'commander';
import { formatLocalRef, parseLocalRef } from '../args';
import type { Context } from '../context';
import { CliError } from '../errors';
import { waitForJob } from '../jobs';
import { createProgress } from '../output';

const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];

export function hostPlatform(): { os: string; architecture: string } {
  const arch: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
}

/**
 * A push destination: `UPSTREAM/NAME[:TAG]` where UPSTREAM is an upstream's id, the host of its
 * URL, or one of its prefixes; without it, the upstream whose prefix the source name starts with,
 * else the default upstream, with the same name.
 */
export function pushTarget(
  source: { name: string; tag?: string },
  dest: string | undefined,
  upstreams: Array<{ id: string; url: string; prefixes?: string[]; default?: boolean }>,
): { upstream: string; name: string; tag?: string } {
  const byPrefix = (name: string) =>
    upstreams
      .flatMap((u) => (u.prefixes ?? []).map((p) => ({ u, p })))
      .filter(({ p }) => name === p || name.startsWith(p + '/'))
      .sort((a, b) => b.p.length - a.p.length)[0];
  if (dest) {
    const slash = dest.indexOf('/');
    const first = slash < 0 ? dest : dest.slice(0, slash);
    const u = upstreams.find(
      (x) => x.id === first || hostOf(x.url) === first || (hostOf(x.url) === 'registry-1.docker.io' && first === 'docker.io'),
    );
    if (u && slash > 0) {
      const ref = parseLocalRef(dest.slice(slash + 1), undefined);
      return { upstream: u.id, name: ref.name, tag: ref.tag ?? source.tag };
    }
    const ref = parseLocalRef(dest, undefined);
    const m = byPrefix(ref.name);
    if (m) return { upstream: m.u.id, name: ref.name.slice(m.p.length + 1), tag: ref.tag ?? source.tag };
    const d = upstreams.find((x) => x.default);
    if (d) return { upstream: d.id, name: ref.name, tag: ref.tag ?? source.tag };
    throw new CliError(
      `no upstream registry matches "${dest}"`,
      'NOT_FOUND',
      'write UPSTREAM_ID/NAME[:TAG]; `stevedore push --help` lists the forms',
    );
  }
  const m = byPrefix(source.name);
  if (m) return { upstream: m.u.id, name: source.name.slice(m.p.length + 1), tag: source.tag };
  const d = upstreams.find((x) => x.default);
  if (d) return { upstream: d.id, name: source.name, tag: source.tag };
  throw new CliError(
    `no upstream registry is configured for ${source.name}`,
    'NOT_FOUND',
    upstreams.length
      ? 'give a destination (stevedore push NAME:TAG UPSTREAM/NAME:TAG), or make one the default: stevedore upstream add <url> --id ID --default'
      : 'an admin adds one with: stevedore upstream add <url> --id ID --default (or --prefix PATH), then push NAME:TAG ID/NAME:TAG',
  );
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export function registerRegistry(program: Command, ctx: () => Context): void {
  program
    .command('pull')
    .description('Pull an image from an upstream registry into the platform (pull-through)')
    .argument('<image>', 'NAME[:TAG|@DIGEST], e.g. busybox or quay.io/coreos/etcd:v3.5.0')
    .option('--platform <os/arch>', 'platform of a multi-platform image (default: this machine)')
    .option('-q, --quiet', 'only the reference')
    .addHelpText('after', '\nExamples:\n  $ stevedore pull busybox\n  $ stevedore pull docker.io/library/alpine:3.20')
    .action(async (image: string, o: { platform?: string; quiet?: boolean }) => {
      const c = ctx();
      const ref = parseLocalRef(image, c.server.key);
      if (!ref.tag && !ref.digest) {
        if (!o.quiet) c.print('Using default tag: latest');
        ref.tag = 'latest';
      }
      const reference = ref.digest ?? (ref.tag as string);
      if (!o.quiet) c.print(`${reference}: Pulling from ${ref.name}`);
      const top = await c.api.manifest(ref.name, reference);
      const topDigest = String(top.headers['docker-content-digest'] ?? '');
      let manifest = (await top.body.json()) as {
        mediaType?: string;
        manifests?: Descriptor[];
        config?: Descriptor;
        layers?: Descriptor[];
      };
      const mediaType = manifest.mediaType ?? String(top.headers['content-type'] ?? '');
      if (INDEX_TYPES.includes(mediaType) || manifest.manifests) {
        const want = o.platform ? { os: o.platform.split('/')[0], architecture: o.platform.split('/')[1] } : hostPlatform();
        const child = manifest.manifests?.find((m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture);
        if (!child)
          throw new CliError(
            `${image} has no manifest for ${want.os}/${want.architecture}`,
            'MANIFEST_UNKNOWN',
            'pick one with --platform',
          );
        manifest = (await (await c.api.manifest(ref.name, child.digest)).body.json()) as typeof manifest;
      }
      const blobs = [manifest.config, ...(manifest.layers ?? [])].filter((d): d is Descriptor => !!d);
      const total = blobs.reduce((a, d) => a + d.size, 0);
      const bar = createProgress('Pulling', { quiet: o.quiet, bytes: true });
      let done = 0;
      for (const d of blobs) {
        const res = await c.api.blob(ref.name, d.digest);
        for await (const chunk of res.body) {
          done += (chunk as Buffer).length;
          bar.update(done, total, d.digest.slice(7, 19));
        }
      }
      bar.stop();
      const name = formatLocalRef({ name: ref.name, tag: ref.tag, digest: ref.digest });
      if (o.quiet) return c.print(name);
      if (topDigest) c.print(`Digest: ${topDigest}`);
      c.print(`Status: Image is up to date for ${name}`);
      c.print(name);
    });

  program
    .command('push')
    .description('Push a local image to an upstream registry (a replication job on the server)')
    .argument('<image>', 'local NAME[:TAG]')
    .argument('[destination]', 'UPSTREAM/NAME[:TAG] (UPSTREAM: an upstream id, its host, or one of its prefixes)')
    .option('--to <destination>', 'same as the destination argument')
    .option('-d, --detach', 'print the job ID and do not wait')
    .option('-q, --quiet', 'no progress')
    .addHelpText(
      'after',
      '\nExamples:\n  $ stevedore push music51555/bh:latest                    # the upstream its name maps to\n  $ stevedore push music51555/bh:v0.2 hub/music51555/bh:v0.2   # upstream "hub"',
    )
    .action(async (image: string, destArg: string | undefined, o: { to?: string; detach?: boolean; quiet?: boolean }) => {
      const c = ctx();
      if (destArg && o.to && destArg !== o.to) throw new CliError('give the destination once (argument or --to)', 'INVALID_ARGUMENT');
      const src = parseLocalRef(image, c.server.key, { defaultTag: true });
      const dest = destArg ?? o.to;
      const { upstreams } = await c.api.upstreams();
      const target = pushTarget(src, dest, upstreams);
      const job = await c.api.replicate(formatLocalRef(src), target);
      if (o.detach) return c.print(job.id);
      const bar = createProgress('Pushing', { quiet: o.quiet, bytes: true });
      const final = await waitForJob({ status: () => c.api.replication(job.id), progress: bar, what: `push of ${image}`, intervalMs: 500 });
      const r = final.result;
      c.print(`${r?.target ?? `${target.upstream}/${target.name}:${target.tag ?? ''}`}: digest: ${r?.digest ?? ''}`);
    });
}
