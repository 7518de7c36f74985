import { fileURLToPath } from "node:url";
import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    alias: {
      "@semantic-gap/lib": fileURLToPath(new URL("./lib/src/index.ts", import.meta.url)),
    },
  },
  test: {
    // The site's browser test runs after the notebooks (npm run test:site), with its own configuration.
    exclude: [...configDefaults.exclude, "lib/test/site/**"],
    include: ["lib/test/**/*.test.ts", "data/**/*.test.ts", "solutions/**/*.test.ts", "autograder/**/*.test.ts", "notebooks/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
