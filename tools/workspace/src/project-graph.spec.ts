// `nx graph --file` must list every project with one of the architecture's type tags.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');
const TYPE_TAGS = ['type:format', 'type:pure', 'type:infra', 'type:domain', 'type:testing', 'type:app'];

describe('project graph', () => {
  jest.setTimeout(120_000);

  it('shows every project with its type tag', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nx-graph-'));
    try {
      const file = path.join(dir, 'graph.json');
      const r = spawnSync(process.execPath, [path.join(root, 'node_modules/nx/dist/bin/nx.js'), 'graph', `--file=${file}`], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', CI: 'true' },
      });
      expect(r.status).toBe(0);
      const graph = JSON.parse(readFileSync(file, 'utf8')).graph as { nodes: Record<string, { data: { tags?: string[] } }> };
      const nodes = Object.entries(graph.nodes);
      for (const name of ['oci', 'unionfs', 'storage', 'testing', 'registry', 'gateway', 'stevedore', 'cli']) {
        expect(graph.nodes[name]).toBeDefined();
      }
      for (const [name, node] of nodes) {
        const types = (node.data.tags ?? []).filter((t) => TYPE_TAGS.includes(t));
        expect({ name, types: types.length }).toEqual({ name, types: 1 });
      }
      expect(graph.nodes['oci'].data.tags).toContain('type:format');
      expect(graph.nodes['unionfs'].data.tags).toContain('type:pure');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
