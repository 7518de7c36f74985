import { defineConfig } from "vitest/config";

// The site's browser test runs after the notebooks were executed (npm run test:site), so it has its own
// configuration outside the unit tests' include list.
export default defineConfig({
  test: {
    include: ["lib/test/site/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 900_000,
  },
});
