// A container as the seed describes it: an image's read-only layers with one read-write layer on top.
import type { Digest } from '@stevedore/oci';
import type { FileOpRequest } from '@stevedore/api-contract';
import type { Change, Entry } from '@stevedore/unionfs';

export interface ContainerImage {
  /** The reference as given (`busybox:1`), and what it resolved to. */
  reference: string;
  repository: string;
  manifestDigest: Digest;
  configDigest: Digest;
  /** Compressed layer digests, bottom first (they name the lower layers). */
  layers: Digest[];
}

export interface ContainerRecord {
  id: string;
  name?: string;
  /** The user it belongs to (a robot's owner when a robot made it); none when made with auth off. */
  owner?: string;
  image: ContainerImage;
  createdAt: string;
  /** Paused by the user (`docker pause`). */
  paused: boolean;
  /** Commit jobs holding the container paused (`docker commit -p`); writes are refused while any does. */
  pausedBy: string[];
  /** Bumped on every change of the read-write layer. */
  generation: number;
}

export interface ContainerState {
  record: ContainerRecord;
  /** The read-write layer (unionfs ReadWriteLayerState). */
  entries: Entry[];
}

export interface ContainerView {
  id: string;
  name?: string;
  owner?: string;
  image: ContainerImage;
  createdAt: string;
  state: 'running' | 'paused';
  pausedBy: string[];
  generation: number;
  /** Entries in the read-write layer. */
  upperEntries: number;
}

export function viewOf(s: ContainerState): ContainerView {
  const r = s.record;
  const v: ContainerView = {
    id: r.id,
    image: r.image,
    createdAt: r.createdAt,
    state: r.paused || r.pausedBy.length > 0 ? 'paused' : 'running',
    pausedBy: r.pausedBy,
    generation: r.generation,
    upperEntries: s.entries.length,
  };
  if (r.name) v.name = r.name;
  if (r.owner) v.owner = r.owner;
  return v;
}

export interface FileOptions {
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
}

/** mkdir, symlink, chmod, chown, remove, rename: the API's file operation, octal modes already numbers. */
export type FileOp = FileOpRequest;

export type TarMode = 'overlay' | 'rootfs';

/** What a commit needs: the read-write layer as it stands, and where it came from. */
export interface ContainerSnapshot {
  record: ContainerRecord;
  entries: Entry[];
}

export type { Change, Entry };
