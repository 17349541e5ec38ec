// `stead dev` rebuilds incrementally: it watches what the bundle reads (also outside the app
// directory), the config and .dev.vars, keeps the last good app serving through a build error,
// and recovers when the error is fixed.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { writeFiles } from "../support/app-files.ts";
import { answers } from "../support/fetch.ts";
import { startStead } from "../support/stead-process.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { waitFor } from "../support/wait-for.ts";

const WRANGLER = JSON.stringify({ name: "dev-app", main: "src/index.ts" });
const INDEX = `import { label } from "../../../shared/label.ts";
export default { fetch: (_request: Request, env: { GREETING?: string }) => new Response(\`\${label} \${env.GREETING ?? "-"}\`) };
`;

/** The messages of the JSON lines in `stderr`, one after another. */
function messages(stderr: string): string {
  return stderr
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => (JSON.parse(line) as { msg: string }).msg)
    .join("\n");
}

describe("stead dev: incremental rebuilds", () => {
  it("picks up a change in a file outside the app directory, and in .dev.vars", async () => {
    using root = tempDataDir("stead-monorepo-");
    writeFiles(root.path, {
      "shared/label.ts": 'export const label = "v1";\n',
      "apps/web/wrangler.jsonc": WRANGLER,
      "apps/web/src/index.ts": INDEX,
    });
    const app = join(root.path, "apps/web");
    await using dev = await startStead("dev", [app, "--threads", "0"]);
    await answers(dev.url, "v1 -");
    writeFiles(root.path, { "shared/label.ts": 'export const label = "v2";\n' });
    await answers(dev.url, "v2 -");
    writeFiles(app, { ".dev.vars": "GREETING=hello\n" });
    await answers(dev.url, "v2 hello");
  });

  it("keeps the last good app serving through a syntax error, and recovers on the fix", async () => {
    using root = tempDataDir("stead-app-");
    writeFiles(root.path, {
      "shared/label.ts": 'export const label = "good";\n',
      "apps/web/wrangler.jsonc": WRANGLER,
      "apps/web/src/index.ts": INDEX,
    });
    const app = join(root.path, "apps/web");
    await using dev = await startStead("dev", [app, "--threads", "0"]);
    await answers(dev.url, "good -");
    writeFiles(root.path, { "shared/label.ts": 'export const label = "broken" +;\n' });
    await waitFor(
      () => messages(dev.stderr()).includes("keeps running the last good build"),
      "the build error to be shown",
      10_000,
    );
    assert.match(messages(dev.stderr()), /Could not build the app from src\/index\.ts/);
    assert.match(messages(dev.stderr()), /\.\.\/\.\.\/shared\/label\.ts:1:32: Unexpected ";"/);
    assert.equal(await (await fetch(dev.url)).text(), "good -");
    writeFiles(root.path, { "shared/label.ts": 'export const label = "fixed";\n' });
    await answers(dev.url, "fixed -");
  });

  it("waits for a fix when the first build fails, then starts the app", async () => {
    using app = tempDataDir("stead-app-");
    writeFiles(app.path, {
      "wrangler.jsonc": WRANGLER,
      "src/index.ts":
        'import { label } from "./label";\nexport default { fetch: () => new Response(label) };\n',
    });
    await using dev = await startStead("dev", [app.path, "--threads", "0"], {
      async whileStarting(output) {
        await waitFor(
          () => messages(output.stderr()).includes("Waiting for a file change to start the app."),
          "the build error to be shown",
          10_000,
        );
        assert.match(
          messages(output.stderr()),
          /src\/index\.ts:1:23: Could not resolve "\.\/label"/,
        );
        writeFiles(app.path, { "src/label.ts": 'export const label = "created";\n' });
      },
    });
    await answers(dev.url, "created");
  });
});
