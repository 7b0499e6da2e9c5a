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
const size = z.number().int().min(0);
const ms = z.number();
const none = z.undefined();
const page = z.object({ items: z.array(z.string()), next: z.string().optional() });
const referrer = z.object({
  mediaType: z.string(),
  digest,
  size,
  artifactType: z.string().optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
const dataRecord = z.object({ digest, size, touched: ms.optional() });

export const METADATA_RPC: RpcTable<MetadataService & ManifestGcService> = {
  getManifest: { args: z.tuple([ref]), result: z.object({ digest, mediaType: z.string(), size, bytes: rpc.bytes }) },
  putManifest: {
    args: z.tuple([
      ref,
      rpc.bytes,
      rpc.optional(z.string().max(255)),
      rpc.optional(z.object({ allowMissingReferences: z.boolean().optional() })),
    ]),
    result: z.object({ digest, mediaType: z.string(), subject: digest.optional() }),
  },
  deleteManifest: { args: z.tuple([name, digest]), result: none },
  deleteTag: { args: z.tuple([name, tag]), result: none },
  tagManifest: { args: z.tuple([name, tag, digest]), result: none },
  listTags: { args: z.tuple([name, n, last]), result: page },
  tagsOf: { args: z.tuple([name, digest]), result: z.array(tag) },
  catalog: { args: z.tuple([n, last]), result: page },
  referrers: { args: z.tuple([name, digest, rpc.optional(z.string().max(255))]), result: z.array(referrer) },
  tagHistory: { args: z.tuple([name, tag]), result: z.array(z.object({ digest, taggedAt: ms })) },
  imageIds: {
    args: z.tuple([z.string().max(71), z.number().int().min(1).max(1000), rpc.optional(z.string().max(71))]),
    result: z.array(digest),
  },
  imageHolders: { args: z.tuple([digest]), result: z.array(z.object({ name, digest, tags: z.array(tag) })) },
  reindex: { args: z.tuple([]), result: z.object({ repositories: size, manifests: size, tags: size, blobs: size }) },
  listManifests: {
    args: z.tuple([name]),
    result: z.array(
      z.object({
        digest,
        mediaType: z.string(),
        size,
        touched: ms.optional(),
        references: z.array(digest),
        subject: digest.optional(),
        tags: z.array(z.object({ tag, taggedAt: ms })),
      }),
    ),
  },
  deleteUntagged: { args: z.tuple([name, z.array(digest), z.object({ olderThan: z.number() })]), result: z.array(digest) },
  listManifestData: {
    args: z.tuple([rpc.optional(z.string())]),
    result: z.object({ items: z.array(dataRecord), cursor: z.string().optional() }),
  },
  purgeManifestData: { args: z.tuple([z.array(digest), z.object({ olderThan: z.number() })]), result: z.array(dataRecord) },
};

export const MetadataRpcController = rpcController<MetadataService & ManifestGcService>('metadata', METADATA_SERVICE, METADATA_RPC);

export function metadataServiceClient(baseUrl: string, token?: string): MetadataService & ManifestGcService {
  return rpcClient<MetadataService & ManifestGcService>('metadata', METADATA_RPC, baseUrl, token);
}
