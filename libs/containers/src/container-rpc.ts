// ContainerService over the wire, as one table (libs/platform rpc): metadata-service (which hosts
// containers) serves it, split gateways and commit workers call it; both sides are derived here.
import { z } from 'zod';
import { isDigest, type Digest } from '@stevedore/oci';
import { rpc, rpcClient, rpcController, type RpcTable } from '@stevedore/platform';
import type { Change, Entry } from '@stevedore/unionfs';
import type { ContainerRecord, ContainerView, FileOp } from './container';
import { CONTAINER_SERVICE, type ContainerService } from './container-service';

const id = z.string().min(1).max(128);
const digest = z.custom<Digest>((v) => isDigest(v), 'a digest');
const path = z.string().min(1).max(4096);
const uid = z
  .number()
  .int()
  .min(0)
  .max(2 ** 32 - 1);
const mode = z.number().int().min(0).max(0o7777);

/** One file operation on the read-write layer (also the public ops route's body, with octal strings). */
export const FileOpSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('mkdir'),
    path,
    parents: z.boolean().optional(),
    mode: mode.optional(),
    uid: uid.optional(),
    gid: uid.optional(),
  }),
  z.object({ op: z.literal('symlink'), path, target: z.string().min(1).max(4096) }),
  z.object({ op: z.literal('chmod'), path, mode }),
  z.object({ op: z.literal('chown'), path, uid, gid: uid }),
  z.object({ op: z.literal('remove'), path, recursive: z.boolean().optional() }),
  z.object({ op: z.literal('rename'), from: path, to: path }),
]) as z.ZodType<FileOp>;

// What comes back: the container, its entries and changes, as the interface declares them.
const count = z.number().int().min(0);
const none = z.undefined();
const entry: z.ZodType<Entry> = z.object({
  path: z.string(),
  type: z.enum(['file', 'directory', 'symlink', 'hardlink', 'char-device', 'block-device', 'fifo', 'whiteout']),
  mode,
  uid,
  gid: uid,
  mtime: z.number(),
  size: count,
  digest: digest.optional(),
  linkname: z.string().optional(),
  devmajor: z.number().int().optional(),
  devminor: z.number().int().optional(),
  xattrs: z.record(z.string(), z.string()).optional(),
  opaque: z.boolean().optional(),
});
const browsed = z.intersection(entry, z.object({ layer: count.nullable(), shadows: z.array(count) }));
const change: z.ZodType<Change> = z.object({ path: z.string(), kind: z.enum(['A', 'C', 'D']) });
const image = z.object({
  reference: z.string(),
  repository: z.string(),
  manifestDigest: digest,
  configDigest: digest,
  layers: z.array(digest),
});
const container = {
  id,
  name: z.string().optional(),
  owner: z.string().optional(),
  image,
  createdAt: z.string(),
  pausedBy: z.array(z.string()),
  generation: count,
};
const view: z.ZodType<ContainerView> = z.object({ ...container, state: z.enum(['running', 'paused']), upperEntries: count });
const record: z.ZodType<ContainerRecord> = z.object({ ...container, paused: z.boolean() });

export const CONTAINER_RPC: RpcTable<ContainerService> = {
  create: {
    args: z.tuple([
      z.object({ image: z.string().min(1).max(600), name: z.string().max(128).optional(), owner: z.string().max(128).optional() }),
    ]),
    result: view,
  },
  list: { args: z.tuple([]), result: z.array(view) },
  inspect: { args: z.tuple([id]), result: view },
  remove: { args: z.tuple([id]), result: none },
  writeFile: {
    args: z.tuple([
      id,
      path,
      rpc.stream,
      rpc.optional(z.object({ mode: mode.optional(), uid: uid.optional(), gid: uid.optional(), mtime: z.number().optional() })),
    ]),
    streamArg: 2,
    result: entry,
  },
  apply: { args: z.tuple([id, FileOpSchema]), result: entry.optional() },
  uploadTar: {
    args: z.tuple([id, rpc.stream, z.enum(['overlay', 'rootfs']), rpc.optional(z.object({ allowDevices: z.boolean().optional() }))]),
    streamArg: 1,
    result: z.object({ entries: count }),
  },
  stat: { args: z.tuple([id, path]), result: entry },
  readFile: { args: z.tuple([id, path]), streamResult: 'stream', result: z.object({ entry }) },
  listDir: { args: z.tuple([id, path]), result: z.array(entry) },
  imageChanges: {
    args: z.tuple([z.string().min(1).max(600), z.object({ layer: count.optional(), from: z.string().min(1).max(600).optional() })]),
    result: z.array(
      z.object({
        path: z.string(),
        kind: z.enum(['A', 'C', 'D']),
        type: z.enum(['file', 'directory', 'symlink', 'hardlink', 'char-device', 'block-device', 'fifo', 'whiteout']).optional(),
        size: count.optional(),
      }),
    ),
  },
  browseImage: {
    args: z.tuple([z.string().min(1).max(600), z.string().max(4096)]),
    result: z.object({
      repository: z.string(),
      manifestDigest: digest,
      layers: z.array(digest),
      entry: browsed,
      children: z.array(browsed),
    }),
  },
  readImageFile: {
    args: z.tuple([z.string().min(1).max(600), path]),
    streamResult: 'stream',
    result: z.object({ entry: browsed }),
  },
  diff: { args: z.tuple([id]), result: z.array(change) },
  pause: { args: z.tuple([id]), result: view },
  unpause: { args: z.tuple([id]), result: view },
  snapshot: { args: z.tuple([id, rpc.optional(z.string().max(128))]), result: z.object({ record, entries: z.array(entry) }) },
  release: { args: z.tuple([id, z.string().min(1).max(128)]), result: none },
  readContent: { args: z.tuple([digest]), result: rpc.bytes },
  openContent: { args: z.tuple([digest]), streamResult: 'stream', result: z.object({}) },
  collect: {
    args: z.tuple([z.object({ olderThan: z.number(), tmpOlderThan: z.number(), dryRun: z.boolean().optional() })]),
    result: z.object({
      containers: count,
      layerIndexes: z.object({ scanned: count, deleted: count, rebuilt: count }),
      content: z.object({ scanned: count, deleted: count, skipped: count, bytesFreed: count }),
      tmpFiles: count,
      usage: z.record(z.string(), z.record(z.string(), count)),
      unreferenced: z.array(z.string()),
    }),
  },
};

export const ContainersRpcController = rpcController<ContainerService>('containers', CONTAINER_SERVICE, CONTAINER_RPC);

export function containerServiceClient(baseUrl: string, token?: string): ContainerService {
  return rpcClient<ContainerService>('containers', CONTAINER_RPC, baseUrl, token);
}
