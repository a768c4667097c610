// Why: two suites: unit tests (no cluster) and end-to-end tests on the local control plane from lab/cluster.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // `import ... from 'kustomate'` (as in the README's example) means this checkout's source in tests.
  resolve: { alias: { kustomate: fileURLToPath(new URL('./src/index.ts', import.meta.url)) } },
  test: {
    projects: [
      {
        extends: true,
        // Some unit tests spawn node or kubectl (no cluster); on 2 busy cores that takes seconds.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node', testTimeout: 60_000 },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 600_000,
          // One control plane on two cores: files run one after another.
          fileParallelism: false,
        },
      },
    ],
  },
});
