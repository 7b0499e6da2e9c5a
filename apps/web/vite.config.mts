// The web UI's build (Vite) and its component tests (Vitest, jsdom). The API's shapes come from
// libs/api-contract's source, as every other project reads them.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

export default defineConfig({
  root: here,
  base: '/',
  plugins: [react()],
  resolve: { alias: { '@stevedore/api-contract': path.join(root, 'libs/api-contract/src/index.ts') } },
  build: { outDir: path.join(root, 'dist/apps/web'), emptyOutDir: true, sourcemap: true },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.spec.tsx', 'src/**/*.spec.ts'],
    setupFiles: [path.join(here, 'src/test-setup.ts')],
  },
});
