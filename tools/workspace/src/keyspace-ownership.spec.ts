// Each keyspace has one owner: Redis keys are built only in a lib's layout file (`*-layout.ts`,
// which draws the tree it owns), never inline in stores, modules or workers. A new `keys.key(...)`
// anywhere else fails here; put it in the owning lib's layout file instead.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (name === 'node_modules' || name === 'test') continue;
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts') && !p.endsWith('.spec.ts') && !p.endsWith('.e2e-spec.ts')) out.push(p);
  }
  return out;
}

// The key builder itself, and the one key platform owns (the instance id, drawn in its file).
const ALLOWED = new Set(['libs/platform/src/redis.ts', 'libs/platform/src/instance-identity.ts']);

describe('keyspace ownership', () => {
  it('builds Redis keys only in layout files', () => {
    const offenders: string[] = [];
    for (const file of sources(path.join(root, 'libs'))) {
      const rel = path.relative(root, file);
      if (rel.endsWith('-layout.ts') || ALLOWED.has(rel)) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/\bkeys\.(key|repo)\(/.test(line) && !line.trim().startsWith('//')) offenders.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
  });

  it('has a layout file, with its tree drawn, for every lib that owns keys', () => {
    // libs/testing's oci-layout.ts writes OCI layout directories for tests: not a keyspace. Platform
    // owns no tree: its one key and path (the instance id) are drawn in instance-identity.ts.
    const layouts = sources(path.join(root, 'libs')).filter((f) => f.endsWith('-layout.ts') && !f.includes('/libs/testing/'));
    const libs = new Set(layouts.map((f) => path.relative(root, f).split('/')[1]));
    expect([...libs].sort()).toEqual(['auth', 'blobs', 'containers', 'gc', 'images', 'metadata', 'upstream']);
    for (const f of layouts) expect({ f, tree: /\n\/\/ {2,}\S/.test(readFileSync(f, 'utf8')) }).toEqual({ f, tree: true });
  });
});
