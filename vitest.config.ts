// Why: two suites: unit tests (no cluster) and end-to-end tests on the local control plane from lab/cluster.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' },
      },
      {
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
