import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    alias: {
      "@semantic-gap/lib": fileURLToPath(new URL("./lib/src/index.ts", import.meta.url)),
    },
  },
  test: {
    include: ["lib/test/**/*.test.ts", "data/**/*.test.ts", "solutions/**/*.test.ts", "autograder/**/*.test.ts", "notebooks/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
