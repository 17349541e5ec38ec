// The config's `build` (custom builds): `stead start` runs build.command once before loading the
// app, and stops with an error naming it when it fails; `stead dev` runs it at start and when a
// file under build.watch_dir changes, and what it writes does not make it run again.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { writeFiles } from "../support/app-files.ts";
import { answers } from "../support/fetch.ts";
import { runStead, startStead } from "../support/stead-process.ts";
import { tempDataDir } from "../support/temp-dir.ts";

/** A command that counts its runs in runs.log and writes generated.txt ("run <n>"), printing a line. */
const COUNTING_COMMAND = `node -e "const fs = require('node:fs'); fs.appendFileSync('runs.log', 'x'); fs.writeFileSync('generated.txt', 'run ' + fs.readFileSync('runs.log', 'utf8').length); console.log('built by the command')"`;

/** An app whose Worker answers the text its build command generated, and a label. */
function appFiles(build: Record<string, unknown>): Record<string, string> {
  return {
    "wrangler.jsonc": JSON.stringify({ name: "built", main: "src/index.ts", build }),
    "src/index.ts": `import generated from "../generated.txt";\nimport { label } from "../lib/label.ts";\nexport default { fetch: () => new Response(\`\${generated} \${label}\`) };\n`,
    "lib/label.ts": 'export const label = "a";\n',
  };
}

describe("build.command", () => {
  it("stead start runs it before building the app, its output on stderr", async () => {
    using app = tempDataDir("stead-app-");
    writeFiles(app.path, appFiles({ command: COUNTING_COMMAND }));
    await using stead = await startStead("start", [app.path, "--threads", "0"]);
    assert.equal(await (await fetch(stead.url)).text(), "run 1 a");
    assert.match(stead.stderr(), /built by the command/);
    assert.deepEqual(
      stead.logs.filter((record) => "line" in record),
      [],
      "stdout holds only JSON lines",
    );
  });

  it("stops stead start when it fails, naming the command and its exit code", async () => {
    using app = tempDataDir("stead-app-");
    const command = `node -e "process.exit(3)"`;
    writeFiles(app.path, appFiles({ command }));
    const result = await runStead(["start", app.path, "--port", "0", "--threads", "0"]);
    assert.equal(result.code, 1);
    assert.ok(
      result.stderr.includes(
        `The custom build command ${JSON.stringify(command)} (build.command in ${join(app.path, "wrangler.jsonc")}, run in ${app.path}) exited with code 3.`,
      ),
      result.stderr,
    );
  });

  it("stead dev runs it at start and on a change under watch_dir, without a loop on what it writes", async () => {
    using app = tempDataDir("stead-app-");
    writeFiles(app.path, appFiles({ command: COUNTING_COMMAND, watch_dir: ["src"] }));
    await using dev = await startStead("dev", [app.path, "--threads", "0"]);
    await answers(dev.url, "run 1 a");
    // A change under watch_dir runs the command again, which writes generated.txt.
    writeFiles(app.path, { "src/client.ts": "export {};\n" });
    await answers(dev.url, "run 2 a");
    // A change outside watch_dir rebuilds without running it; by then a loop would have shown.
    writeFiles(app.path, { "lib/label.ts": 'export const label = "b";\n' });
    await answers(dev.url, "run 2 b");
    assert.equal(readFileSync(join(app.path, "runs.log"), "utf8"), "xx");
  });
});
