// The house rules of ARCHITECTURE.md are enforced by lint; this proves a broken rule fails it.
// ESLint runs as the CLI in a child process, exactly as `npm test` runs it (its flat config is ESM,
// which Jest's module sandbox cannot load).
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');

async function lintAs(file: string, code: string): Promise<string[]> {
  const r = spawnSync(
    process.execPath,
    [path.join(root, 'node_modules/eslint/bin/eslint.js'), '--format', 'json', '--stdin', '--stdin-filename', file],
    {
      cwd: root,
      input: code,
      encoding: 'utf8',
      env: { ...process.env, NX_DAEMON: 'false' },
    },
  );
  if (!r.stdout) throw new Error(`eslint produced no output: ${r.stderr}`);
  const [result] = JSON.parse(r.stdout) as Array<{ messages: Array<{ ruleId: string; message: string }> }>;
  return result.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('module boundaries', () => {
  jest.setTimeout(60_000);

  it('forbids libs/oci (pure) from importing any other lib of ours', async () => {
    const messages = await lintAs(
      'libs/oci/src/boundary-fixture.ts',
      "import { PathNotFoundError } from '@stevedore/storage';\nexport const x = PathNotFoundError;\n",
    );
    expect(messages.some((m) => m.startsWith('@nx/enforce-module-boundaries'))).toBe(true);
  });

  it('lets libs/unionfs import libs/oci but not a domain lib', async () => {
    const ok = await lintAs(
      'libs/unionfs/src/boundary-fixture.ts',
      "import { digestOf } from '@stevedore/oci';\nexport const x = digestOf;\n",
    );
    expect(ok.filter((m) => m.startsWith('@nx/enforce-module-boundaries'))).toEqual([]);
    const bad = await lintAs('libs/unionfs/src/boundary-fixture.ts', "import * as b from '@stevedore/blobs';\nexport const x = b;\n");
    expect(bad.some((m) => m.startsWith('@nx/enforce-module-boundaries'))).toBe(true);
  });

  it('keeps libs/api-contract to zod alone, lets every side of the API use it, and the CLI only lazily', async () => {
    // A browser bundle takes it as it is: nothing of ours (libs/oci reads files and streams).
    const bad = await lintAs(
      'libs/api-contract/src/boundary-fixture.ts',
      "import { digestOf } from '@stevedore/oci';\nexport const x = digestOf;\n",
    );
    expect(bad.some((m) => m.startsWith('@nx/enforce-module-boundaries'))).toBe(true);
    for (const file of ['libs/unionfs/src/boundary-fixture.ts', 'libs/images/src/boundary-fixture.ts']) {
      const ok = await lintAs(file, "import { apiRoutes } from '@stevedore/api-contract';\nexport const x = apiRoutes;\n");
      expect({ file, messages: ok.filter((m) => m.startsWith('@nx/enforce-module-boundaries')) }).toEqual({ file, messages: [] });
    }
    // The CLI loads the contract (and zod) on its first request, so a start stays fast: its types
    // anywhere, its values only through the lazy import, which the rule keeps so.
    const cli = 'tools/cli/src/boundary-fixture.ts';
    const typed = await lintAs(
      cli,
      "import type { RouteName } from '@stevedore/api-contract';\nexport const x: RouteName = 'job';\nexport const y = () => import('@stevedore/api-contract');\n",
    );
    expect({ file: cli, messages: typed.filter((m) => m.startsWith('@nx/enforce-module-boundaries')) }).toEqual({
      file: cli,
      messages: [],
    });
    const eager = await lintAs(cli, "import { apiRoutes } from '@stevedore/api-contract';\nexport const x = apiRoutes;\n");
    expect(eager.some((m) => m.startsWith('@nx/enforce-module-boundaries'))).toBe(true);
  });

  it('forbids a lib from importing an app, and production code from importing libs/testing', async () => {
    const lib = await lintAs('libs/blobs/src/boundary-fixture.ts', "import * as t from '@stevedore/testing';\nexport const x = t;\n");
    expect(lib.some((m) => m.startsWith('@nx/enforce-module-boundaries') || m.startsWith('no-restricted-imports'))).toBe(true);
  });

  it('forbids deep imports into another project', async () => {
    const deep = await lintAs(
      'libs/registry/src/boundary-fixture.ts',
      "import { x } from '../../blobs/src/internal';\nexport const y = x;\n",
    );
    expect(deep.some((m) => m.startsWith('@nx/enforce-module-boundaries'))).toBe(true);
  });

  it('forbids importing another lib by a path into its files instead of its entry point', async () => {
    const deep = await lintAs(
      'libs/registry/src/boundary-fixture.spec.ts',
      "import { LayerStorage } from '@stevedore/blobs/src/layer-storage';\nexport const y = LayerStorage;\n",
    );
    expect(deep.some((m) => m.startsWith('no-restricted-imports'))).toBe(true);
    const barrel = await lintAs(
      'libs/registry/src/boundary-fixture.ts',
      "import { createLayerStorage } from '@stevedore/blobs';\nexport const y = createLayerStorage;\n",
    );
    expect(barrel.filter((m) => m.startsWith('no-restricted-imports'))).toEqual([]);
  });
});
