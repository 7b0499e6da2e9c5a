// MetadataService and ManifestGcService over the wire, as one table (libs/platform rpc):
// metadata-service's internal controller and the client split gateways and workers use are both
// derived from it.
import { z } from 'zod';
import { isDigest, type Digest, type LocalReference } from '@stevedore/oci';
import { rpc, rpcClient, rpcController, type RpcTable } from '@stevedore/platform';
import { METADATA_SERVICE, type ManifestGcService, type MetadataService } from './metadata-service';

const name = z.string().min(1).max(255);
const digest = z.custom<Digest>((v) => isDigest(v), 'a digest');
const tag = z.string().min(1).max(128);
const ref = z.object({ name, tag: tag.optional(), digest: digest.optional() }) as z.ZodType<LocalReference>;
const n = rpc.optional(z.number().int().min(0));
const last = rpc.optional(z.string().max(1024));

export const METADATA_RPC: RpcTable<MetadataService & ManifestGcService> = {
  getManifest: { args: z.tuple([ref]) },
  putManifest: {
    args: z.tuple([
      ref,
      rpc.bytes,
      rpc.optional(z.string().max(255)),
      rpc.optional(z.object({ allowMissingReferences: z.boolean().optional() })),
    ]),
  },
  deleteManifest: { args: z.tuple([name, digest]) },
  deleteTag: { args: z.tuple([name, tag]) },
  tagManifest: { args: z.tuple([name, tag, digest]) },
  listTags: { args: z.tuple([name, n, last]) },
  tagsOf: { args: z.tuple([name, digest]) },
  catalog: { args: z.tuple([n, last]) },
  referrers: { args: z.tuple([name, digest, rpc.optional(z.string().max(255))]) },
  tagHistory: { args: z.tuple([name, tag]) },
  reindex: { args: z.tuple([]) },
  listManifests: { args: z.tuple([name]) },
  deleteUntagged: { args: z.tuple([name, z.array(digest), z.object({ olderThan: z.number() })]) },
  listManifestData: { args: z.tuple([rpc.optional(z.string())]) },
  purgeManifestData: { args: z.tuple([z.array(digest), z.object({ olderThan: z.number() })]) },
};

export const MetadataRpcController = rpcController<MetadataService & ManifestGcService>('metadata', METADATA_SERVICE, METADATA_RPC);

export function metadataServiceClient(baseUrl: string, token?: string): MetadataService & ManifestGcService {
  return rpcClient<MetadataService & ManifestGcService>('metadata', METADATA_RPC, baseUrl, token);
}
