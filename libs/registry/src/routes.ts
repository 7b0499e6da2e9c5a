// Matching /v2 paths. Repository names contain slashes, so routes are matched here rather than by
// the HTTP router (as distribution's v2 route regexps do).
export type V2Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'referrers'; name: string; digest: string };

export function matchV2(path: string): V2Route | undefined {
  if (path === '/v2' || path === '/v2/') return { kind: 'base' };
  if (path === '/v2/_catalog') return { kind: 'catalog' };
  let m = /^\/v2\/(.+)\/tags\/list$/.exec(path);
  if (m) return { kind: 'tags', name: m[1] };
  m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
  if (m) return { kind: 'manifest', name: m[1], reference: decodeURIComponent(m[2]) };
  m = /^\/v2\/(.+)\/blobs\/uploads\/?$/.exec(path);
  if (m) return { kind: 'uploads', name: m[1] };
  m = /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/.exec(path);
  if (m) return { kind: 'upload', name: m[1], id: m[2] };
  m = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(path);
  if (m) return { kind: 'blob', name: m[1], digest: decodeURIComponent(m[2]) };
  m = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(path);
  if (m) return { kind: 'referrers', name: m[1], digest: decodeURIComponent(m[2]) };
  return undefined;
}

/** What a request needs: the repository and actions of a token scope, or the catalog. */
export function requiredAccess(
  route: V2Route,
  method: string,
): { type: 'repository' | 'registry' | 'base'; name: string; actions: string[] } {
  if (route.kind === 'base') return { type: 'base', name: '', actions: [] };
  if (route.kind === 'catalog') return { type: 'registry', name: 'catalog', actions: ['*'] };
  const read = method === 'GET' || method === 'HEAD';
  const actions = read ? ['pull'] : method === 'DELETE' ? ['delete'] : ['pull', 'push'];
  return { type: 'repository', name: route.name, actions };
}
