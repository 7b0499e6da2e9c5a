// BlobService and BlobGcService over the wire, as one table (libs/platform rpc): blob-service's
// internal controller and the client split gateways and metadata-service use are both derived
// from it.
import { z } from 'zod';
import { isDigest, type Digest } from '@stevedore/oci';
import { rpc, rpcClient, rpcController, type RpcTable } from '@stevedore/platform';
import { BLOB_SERVICE, type BlobGcService, type BlobService } from './blob-service';

const name = z.string().min(1).max(255);
const digest = z.custom<Digest>((v) => isDigest(v), 'a digest');
const id = z.string().min(1).max(128);
const range = z.object({ start: z.number().int().min(0), end: z.number().int().min(0).optional() });

export const BLOB_RPC: RpcTable<BlobService & BlobGcService> = {
  stat: { args: z.tuple([name, digest]) },
  exists: { args: z.tuple([digest]) },
  open: {
    args: z.tuple([name, digest, rpc.optional(z.object({ range: range.optional(), allowRedirect: z.boolean().optional() }))]),
    streamResult: 'stream',
    // A small blob's cached bytes are what the stream yields: sent once, as the body.
    omit: ['bytes'],
  },
  startUpload: { args: z.tuple([name]) },
  uploadStatus: { args: z.tuple([name, id]) },
  appendChunk: { args: z.tuple([name, id, rpc.stream, rpc.optional(range), rpc.optional(z.number().int().min(0))]), streamArg: 2 },
  completeUpload: { args: z.tuple([name, id, digest, rpc.stream, rpc.optional(z.number().int().min(0))]), streamArg: 3 },
  cancelUpload: { args: z.tuple([name, id]) },
  mount: { args: z.tuple([name, name, digest]) },
  putBlob: { args: z.tuple([name, rpc.stream, rpc.optional(digest), rpc.optional(z.number().int().min(0))]), streamArg: 1 },
  unlink: { args: z.tuple([name, digest]) },
  reindex: { args: z.tuple([]) },
  storeContent: { args: z.tuple([digest, z.instanceof(Buffer)]) },
  readContent: { args: z.tuple([digest]) },
  dropContent: { args: z.tuple([z.array(digest), z.object({ olderThan: z.number() })]) },
  listBlobs: { args: z.tuple([rpc.optional(z.string())]) },
  listLinks: { args: z.tuple([name]) },
  sweepBlobs: {
    args: z.tuple([z.array(z.object({ digest, unlinkFrom: z.array(name), deleteData: z.boolean() })), z.object({ olderThan: z.number() })]),
  },
  purgeUploads: { args: z.tuple([z.object({ olderThan: z.number(), dryRun: z.boolean().optional() })]) },
};

export const BlobsRpcController = rpcController<BlobService & BlobGcService>('blobs', BLOB_SERVICE, BLOB_RPC);

export function blobServiceClient(baseUrl: string, token?: string): BlobService & BlobGcService {
  return rpcClient<BlobService & BlobGcService>('blobs', BLOB_RPC, baseUrl, token);
}
