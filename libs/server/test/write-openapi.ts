// Regenerates docs/openapi.json from a live all-in-one server:
//   node -r @swc-node/register libs/server/test/write-openapi.ts
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { http, startStevedore } from '@stevedore/testing';

(async () => {
  const s = await startStevedore();
  try {
    const doc = (await http(s.url, 'GET', '/api/docs-json')).json();
    writeFileSync(path.resolve(__dirname, '../../../docs/openapi.json'), JSON.stringify(doc, null, 2) + '\n');
    console.log(`${Object.keys(doc.paths).length} paths written to docs/openapi.json`);
  } finally {
    await s.stop();
  }
})();
