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
const size = z.number().int().min(0);
const info = z.object({ digest, size });
const upload = z.object({ id, name, offset: size });
const none = z.undefined();

export const BLOB_RPC: RpcTable<BlobService & BlobGcService> = {
  stat: { args: z.tuple([name, digest]), result: info.optional() },
  exists: { args: z.tuple([digest]), result: info.optional() },
  open: {
    args: z.tuple([name, digest, rpc.optional(z.object({ range: range.optional(), allowRedirect: z.boolean().optional() }))]),
    streamResult: 'stream',
    // A small blob's cached bytes are what the stream yields: sent once, as the body.
    omit: ['bytes'],
    result: z.object({ info, redirectUrl: z.string().url().optional(), range: z.object({ start: size, end: size }).optional() }),
  },
  startUpload: { args: z.tuple([name]), result: upload },
  uploadStatus: { args: z.tuple([name, id]), result: upload },
  appendChunk: {
    args: z.tuple([name, id, rpc.stream, rpc.optional(range), rpc.optional(z.number().int().min(0))]),
    streamArg: 2,
    result: upload,
  },
  completeUpload: { args: z.tuple([name, id, digest, rpc.stream, rpc.optional(z.number().int().min(0))]), streamArg: 3, result: info },
  cancelUpload: { args: z.tuple([name, id]), result: none },
  mount: { args: z.tuple([name, name, digest]), result: info.optional() },
  putBlob: { args: z.tuple([name, rpc.stream, rpc.optional(digest), rpc.optional(z.number().int().min(0))]), streamArg: 1, result: info },
  unlink: { args: z.tuple([name, digest]), result: none },
  reindex: { args: z.tuple([]), result: size },
  storeContent: { args: z.tuple([digest, rpc.bytes]), result: none },
  readContent: { args: z.tuple([digest]), result: rpc.bytes.optional() },
  dropContent: { args: z.tuple([z.array(digest), z.object({ olderThan: z.number() })]), result: z.array(digest) },
  listBlobs: {
    args: z.tuple([rpc.optional(z.string())]),
    result: z.object({ items: z.array(z.object({ digest, size, touched: z.number().optional() })), cursor: z.string().optional() }),
  },
  listLinks: { args: z.tuple([name]), result: z.array(digest) },
  sweepBlobs: {
    args: z.tuple([z.array(z.object({ digest, unlinkFrom: z.array(name), deleteData: z.boolean() })), z.object({ olderThan: z.number() })]),
    result: z.object({ deleted: z.array(info), unlinked: size, skipped: z.array(digest) }),
  },
  purgeUploads: {
    args: z.tuple([z.object({ olderThan: z.number(), dryRun: z.boolean().optional() })]),
    result: z.object({ sessions: size, bytes: size, multipartAborted: size }),
  },
};

export const BlobsRpcController = rpcController<BlobService & BlobGcService>('blobs', BLOB_SERVICE, BLOB_RPC);

export function blobServiceClient(baseUrl: string, token?: string): BlobService & BlobGcService {
  return rpcClient<BlobService & BlobGcService>('blobs', BLOB_RPC, baseUrl, token);
}
