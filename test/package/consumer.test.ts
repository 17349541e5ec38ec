// Stead as a user gets it: `npm pack`, the tarball installed into a fresh app outside the
// repository, then the app serves with the package's own `stead` binary, imports createRuntime
// and stead/testing in its own tests (under node --test and under Vitest), and type-checks
// against the published types; on this Node and on the oldest one `engines` allows (24,
// installed from npm into the app, as the repository pins its own).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { startStead } from "../e2e/support/stead-process.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** Runs `command` in `cwd`, failing the test with its output when it fails. */
function run(command: string, args: string[], cwd: string): string {
  try {
    // A child `node --test` that sees NODE_TEST_CONTEXT reports to this runner, not to stdout.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    return execFileSync(command, args, { cwd, env, encoding: "utf8", stdio: "pipe" });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed:\n${stdout ?? ""}\n${stderr ?? ""}`);
  }
}

/** The app's own test, written once for both runners (`test` from node:test or from Vitest). */
function appTest(runner: "node:test" | "vitest"): string {
  return `import assert from "node:assert/strict";
import { test } from "${runner}";
import { createRuntime, DurableObject } from "stead";
import { runInDurableObject } from "stead/testing";

export class Counter extends DurableObject {
  async increment() {
    const n = ((await this.ctx.storage.get("n")) ?? 0) + 1;
    await this.ctx.storage.put("n", n);
    return n;
  }
}

test("counts, and the object's storage is reachable from the test", async () => {
  const rt = await createRuntime({
    main: { Counter, default: { fetch: () => new Response("ok") } },
    durableObjects: { COUNTER: "Counter" },
  });
  try {
    const stub = rt.env.COUNTER.getByName("a");
    assert.equal(await stub.increment(), 1);
    assert.equal(await stub.increment(), 2);
    assert.equal(await runInDurableObject(stub, (_, ctx) => ctx.storage.get("n")), 2);
  } finally {
    await rt.dispose();
  }
});
`;
}

const TYPED = `import { DurableObject, type DurableObjectNamespace } from "stead";

interface Env {
  COUNTER: DurableObjectNamespace<Counter>;
  GREETING: string;
}

export class Counter extends DurableObject<Env> {
  async increment(by: number): Promise<number> {
    const n = ((await this.ctx.storage.get<number>("n")) ?? 0) + by;
    await this.ctx.storage.put("n", n);
    return n;
  }
}

export async function count(env: Env): Promise<string> {
  const total: number = await env.COUNTER.getByName("a").increment(2);
  return \`\${env.GREETING} \${total}\`;
}
`;

describe("the packed package in a fresh app", () => {
  it("serves with its stead binary, runs the app's own test, and type-checks the app", async () => {
    using dir = tempDataDir("stead-consumer-");
    run("npm", ["pack", "--pack-destination", dir.path], REPO);
    const tarball = readdirSync(dir.path).find((name) => name.endsWith(".tgz"));
    assert.ok(tarball, "npm pack wrote a tarball");
    const app = join(dir.path, "app");
    cpSync(join(REPO, "templates", "counter"), app, { recursive: true });
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", type: "module" }));
    const install = [join(dir.path, tarball), "vitest", "node@24"];
    run("npm", ["install", "--no-audit", "--no-fund", ...install], app);
    const oldest = join(app, "node_modules", ".bin", "node");
    assert.match(run(oldest, ["--version"], app), /^v24\./);

    writeFileSync(join(app, "counter.test.js"), appTest("node:test"));
    writeFileSync(join(app, "counter.vitest.test.js"), appTest("vitest"));
    for (const node of [process.execPath, oldest]) {
      // (a) the package's binary serves the app.
      using data = tempDataDir();
      await using stead = await startStead(
        "start",
        [app, "--data-dir", data.path, "--host", "127.0.0.1"],
        { cli: join(app, "node_modules", "stead", "dist", "cli", "main.js"), node },
      );
      const count = async () => (await fetch(`${stead.url}/apples`, { method: "POST" })).json();
      assert.deepEqual(await count(), { name: "apples", value: 1 });
      assert.deepEqual(await count(), { name: "apples", value: 2 });

      // (b, c) the app's own tests import createRuntime and stead/testing: node --test, Vitest.
      const output = run(node, ["--test", "counter.test.js"], app);
      assert.match(output, /pass 1\n/);
      assert.match(output, /fail 0\n/);
      const vitest = join(app, "node_modules", "vitest", "vitest.mjs");
      assert.match(run(node, [vitest, "run", "counter.vitest"], app), /1 passed/);
    }

    // (d) a TypeScript file type-checks against the published types.
    writeFileSync(join(app, "typed.ts"), TYPED);
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2024",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ["typed.ts"],
      }),
    );
    run(process.execPath, [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", app], app);
    // A wrong argument type is caught: the types carry RPC through the namespace.
    writeFileSync(join(app, "typed.ts"), TYPED.replace("increment(2)", 'increment("2")'));
    assert.throws(
      () =>
        run(
          process.execPath,
          [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", app],
          app,
        ),
      /Argument of type 'string' is not assignable to parameter of type 'number'/,
    );
  });
});
