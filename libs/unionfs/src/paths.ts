// Path helpers. Inside this library a path is relative to the root, '/'-separated, without
// '.', '..', empty segments or a trailing slash; the root itself is ''.

/** Normalise a caller's path ('/a//b/./c/' -> 'a/b/c'); returns undefined if it climbs out with '..'. */
export function cleanPath(path: string): string | undefined {
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') return undefined;
    out.push(seg);
  }
  return out.join('/');
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function joinPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** Proper ancestors, nearest to the root first ('a/b/c' -> ['a', 'a/b']). */
export function ancestorsOf(path: string): string[] {
  const out: string[] = [];
  let i = path.indexOf('/');
  while (i >= 0) {
    out.push(path.slice(0, i));
    i = path.indexOf('/', i + 1);
  }
  return out;
}

/** True when `path` is `dir` or lies beneath it. */
export function isWithin(path: string, dir: string): boolean {
  return dir === '' || path === dir || path.startsWith(`${dir}/`);
}

/**
 * Tree order: segment by segment, so a directory is followed directly by everything beneath it
 * ('a', 'a/b', 'a-b'). Plain string order would put 'a-b' between 'a' and 'a/b'.
 */
export function comparePaths(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    if (ca === 47) return -1;
    if (cb === 47) return 1;
    return ca < cb ? -1 : 1;
  }
  return a.length - b.length;
}

/** Resolve a symlink target lexically from the link's directory; undefined when it climbs above the root. */
export function resolveLinkTarget(linkPath: string, target: string): string | undefined {
  const stack = target.startsWith('/') ? [] : parentOf(linkPath).split('/').filter(Boolean);
  for (const seg of target.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (stack.length === 0) return undefined;
      stack.pop();
    } else stack.push(seg);
  }
  return stack.join('/');
}
