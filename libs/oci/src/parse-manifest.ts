// Validate received manifest bytes. The digest is over the exact bytes: re-serialising would change it.
import type { z } from 'zod';
import { RegistryError } from './errors';
import { digestOf, type Digest } from './digest';
import { MediaTypes } from './media-types';
import {
  DockerManifestListSchema,
  DockerManifestSchema,
  OciIndexSchema,
  OciManifestSchema,
  type Descriptor,
  type DockerManifest,
  type DockerManifestList,
  type OciIndex,
  type OciManifest,
} from './schemas';

export type ManifestMediaType =
  typeof MediaTypes.ociManifest | typeof MediaTypes.ociIndex | typeof MediaTypes.dockerManifest | typeof MediaTypes.dockerManifestList;

export interface ParsedManifest {
  mediaType: ManifestMediaType;
  digest: Digest;
  size: number;
  parsed: OciManifest | OciIndex | DockerManifest | DockerManifestList;
  /** Blobs and manifests this one needs: config + layers, or the child manifests of an index. */
  references: Descriptor[];
  subject?: Descriptor;
  /** The artifact type as the referrers API reports it: artifactType, else the config media type. */
  artifactType?: string;
  annotations?: Record<string, string>;
  isIndex: boolean;
}

const SCHEMAS: Record<ManifestMediaType, z.ZodType> = {
  [MediaTypes.ociManifest]: OciManifestSchema,
  [MediaTypes.ociIndex]: OciIndexSchema,
  [MediaTypes.dockerManifest]: DockerManifestSchema,
  [MediaTypes.dockerManifestList]: DockerManifestListSchema,
};

function invalid(message: string, detail: Record<string, unknown>): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message, detail);
}

/** Strip parameters (`; charset=utf-8`) and case from a Content-Type. */
function bareMediaType(ct: string | undefined): string | undefined {
  const s = ct?.split(';')[0].trim().toLowerCase();
  return s ? s : undefined;
}

/**
 * Validate a manifest or index. The media type is the body's `mediaType` if present, else the
 * Content-Type, else inferred from shape (`manifests` → OCI index, else OCI manifest). A body
 * `mediaType` that contradicts the Content-Type is refused, as distribution does.
 */
export function parseManifest(bytes: Buffer, contentType?: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw invalid('manifest is not valid JSON', { reason: (e as Error).message });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid('manifest must be a JSON object', {});
  const body = json as Record<string, unknown>;
  const ct = bareMediaType(contentType);
  const declared = typeof body['mediaType'] === 'string' ? body['mediaType'] : undefined;
  if (body['schemaVersion'] === 1 || ct === MediaTypes.dockerSchema1Signed || declared === MediaTypes.dockerSchema1Signed) {
    throw invalid('Docker schema1 manifests are not supported', { mediaType: declared ?? ct });
  }
  const generic = ct === undefined || ct === 'application/json' || ct === 'application/octet-stream';
  if (declared !== undefined && !generic && declared !== ct) {
    throw invalid('manifest mediaType does not match Content-Type', { mediaType: declared, contentType: ct });
  }
  const mediaType = (declared ??
    (generic ? undefined : ct) ??
    ('manifests' in body ? MediaTypes.ociIndex : MediaTypes.ociManifest)) as ManifestMediaType;
  const schema = SCHEMAS[mediaType];
  if (!schema) throw invalid(`unsupported manifest media type "${String(mediaType).slice(0, 200)}"`, { mediaType });
  const result = schema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.slice(0, 20).map((i) => ({ path: i.path.join('.'), message: i.message }));
    const first = issues[0];
    throw invalid(`invalid ${mediaType}: ${first.path || '(root)'}: ${first.message}`, { mediaType, issues });
  }
  const parsed = result.data as ParsedManifest['parsed'];
  const isIndex = 'manifests' in parsed;
  const references: Descriptor[] = isIndex
    ? [...(parsed as OciIndex).manifests]
    : [(parsed as OciManifest).config, ...(parsed as OciManifest).layers];
  const subject = 'subject' in parsed ? (parsed.subject as Descriptor | undefined) : undefined;
  const annotations = 'annotations' in parsed ? (parsed.annotations as Record<string, string> | undefined) : undefined;
  let artifactType = 'artifactType' in parsed ? (parsed.artifactType as string | undefined) : undefined;
  if (!artifactType && !isIndex) artifactType = (parsed as OciManifest).config.mediaType;
  const out: ParsedManifest = { mediaType, digest: digestOf(bytes), size: bytes.length, parsed, references, isIndex };
  if (subject) out.subject = subject;
  if (artifactType) out.artifactType = artifactType;
  if (annotations) out.annotations = annotations;
  return out;
}
