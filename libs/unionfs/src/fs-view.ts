// A read-only filesystem as seen from inside a container: what merged views and trees share.
import type { Entry } from './entry';

export interface FsView {
  /** The entry at `path` ('' is the root), or undefined if nothing is visible there. */
  lookup(path: string): Entry | undefined;
  /** Visible children of a directory, sorted by name; empty for anything else. */
  list(dir: string): Entry[];
  /** Every visible entry below `dir` (not `dir` itself), parents before children, sorted. */
  walk(dir?: string): Iterable<Entry>;
}
