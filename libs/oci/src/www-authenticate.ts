// Parsing `WWW-Authenticate` challenges (RFC 7235) as registries send them:
//   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"
//   Basic realm="Registry Realm"
// Several challenges may share one header, and parameter values may be quoted with commas inside.

export interface Challenge {
  /** Lower-cased scheme: 'bearer', 'basic', ... */
  scheme: string;
  /** Parameter names lower-cased, values unquoted. */
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;

export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  if (Array.isArray(header)) return header.flatMap((h) => parseChallenges(h));
  const out: Challenge[] = [];
  let i = 0;
  const s = header;
  const skipSpace = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const token = (): string | undefined => {
    TOKEN.lastIndex = i;
    const m = TOKEN.exec(s);
    if (!m) return undefined;
    i += m[0].length;
    return m[0];
  };
  while (i < s.length) {
    skipSpace();
    if (s[i] === ',') {
      i++;
      continue;
    }
    const scheme = token();
    if (!scheme) break;
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    // Parameters until the next scheme (a token not followed by '=').
    for (;;) {
      skipSpace();
      const start = i;
      const name = token();
      if (!name) break;
      skipSpace();
      if (s[i] !== '=') {
        i = start; // a new challenge's scheme
        break;
      }
      i++;
      skipSpace();
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i++];
        }
        i++;
      } else {
        // Lenient as Docker's parser: an unquoted value runs to the next comma or space, so
        // `realm=https://host/token` (not a strict RFC token) still reads whole.
        while (i < s.length && s[i] !== ',' && s[i] !== ' ' && s[i] !== '\t') value += s[i++];
      }
      challenge.params[name.toLowerCase()] = value;
      skipSpace();
      if (s[i] === ',') i++;
      else break;
    }
  }
  return out;
}

/** The token scope of a repository, as registries ask for it. */
export function repositoryScope(name: string, actions: string[]): string {
  return `repository:${name}:${actions.join(',')}`;
}
