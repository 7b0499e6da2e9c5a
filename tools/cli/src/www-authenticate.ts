// Parses `WWW-Authenticate` challenges: `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`.
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (!header) return [];
  const text = Array.isArray(header) ? header.join(', ') : header;
  const out: Challenge[] = [];
  const re = /\s*([A-Za-z][\w-]*)(?:\s+|$)|\s*([\w-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]*)\s*,?/gy;
  let current: Challenge | undefined;
  let m: RegExpExecArray | null;
  while (re.lastIndex < text.length && (m = re.exec(text))) {
    if (m[1] !== undefined && !/=/.test(text.slice(re.lastIndex, re.lastIndex + 1))) {
      current = { scheme: m[1].toLowerCase(), params: {} };
      out.push(current);
    } else if (m[2] !== undefined && current) {
      current.params[m[2].toLowerCase()] = m[4] !== undefined ? m[4].replace(/\\(.)/g, '$1') : m[3];
    } else if (m[1] !== undefined && current) {
      // A bare token68 after the scheme: ignore it.
    }
    if (m[0] === '') break;
  }
  return out;
}
