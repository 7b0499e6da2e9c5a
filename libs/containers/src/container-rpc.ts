// ContainerService over the wire, as one table (libs/platform rpc): metadata-service (which hosts
// containers) serves it, split gateways and commit workers call it; both sides are derived here.
import { z } from 'zod';
import { isDigest, type Digest } from '@stevedore/oci';
import { rpc, rpcClient, rpcController, type RpcTable } from '@stevedore/platform';
import type { FileOp } from './container';
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

export const CONTAINER_RPC: RpcTable<ContainerService> = {
  create: {
    args: z.tuple([
      z.object({ image: z.string().min(1).max(600), name: z.string().max(128).optional(), owner: z.string().max(128).optional() }),
    ]),
  },
  list: { args: z.tuple([]) },
  inspect: { args: z.tuple([id]) },
  remove: { args: z.tuple([id]) },
  writeFile: {
    args: z.tuple([
      id,
      path,
      rpc.stream,
      rpc.optional(z.object({ mode: mode.optional(), uid: uid.optional(), gid: uid.optional(), mtime: z.number().optional() })),
    ]),
    streamArg: 2,
  },
  apply: { args: z.tuple([id, FileOpSchema]) },
  uploadTar: {
    args: z.tuple([id, rpc.stream, z.enum(['overlay', 'rootfs']), rpc.optional(z.object({ allowDevices: z.boolean().optional() }))]),
    streamArg: 1,
  },
  stat: { args: z.tuple([id, path]) },
  readFile: { args: z.tuple([id, path]), streamResult: 'stream' },
  listDir: { args: z.tuple([id, path]) },
  diff: { args: z.tuple([id]) },
  pause: { args: z.tuple([id]) },
  unpause: { args: z.tuple([id]) },
  snapshot: { args: z.tuple([id, rpc.optional(z.string().max(128))]) },
  release: { args: z.tuple([id, z.string().min(1).max(128)]) },
  readContent: { args: z.tuple([digest]) },
  openContent: { args: z.tuple([digest]), streamResult: 'stream' },
  collect: { args: z.tuple([z.object({ olderThan: z.number(), tmpOlderThan: z.number(), dryRun: z.boolean().optional() })]) },
};

export const ContainersRpcController = rpcController<ContainerService>('containers', CONTAINER_SERVICE, CONTAINER_RPC);

export function containerServiceClient(baseUrl: string, token?: string): ContainerService {
  return rpcClient<ContainerService>('containers', CONTAINER_RPC, baseUrl, token);
}
