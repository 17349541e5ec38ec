// Stead as a user gets it: `npm pack`, the tarball installed into a fresh directory outside the
// repository, `npx stead init app`, then in the app `npm install`, `npm run dev` serves and
// `npm test` passes; its own modules import createRuntime and stead/testing (under node --test
// and under Vitest), and it type-checks against the published types. On this Node and on the
// oldest one `engines` allows (24, installed from npm, as the repository pins its own).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { startStead } from "../support/stead-process.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** Runs `command` in `cwd`, failing the test with its output when it fails. */
function run(
  command: string,
  args: string[],
  cwd: string,
  extraEnv: NodeJS.ProcessEnv = {},
): string {
  try {
    // A child `node --test` that sees NODE_TEST_CONTEXT reports to this runner, not to stdout.
    const { NODE_TEST_CONTEXT: _, ...env } = { ...process.env, ...extraEnv };
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
    // The Workers globals come with the package, HTMLRewriter's WebAssembly included.
    const page = new HTMLRewriter()
      .on("b", { element: (b) => b.setInnerContent("installed") })
      .transform(new Response("<b>?</b>"));
    assert.equal(await page.text(), "<b>installed</b>");
  } finally {
    await rt.dispose();
  }
});
`;
}

/**
 * An environment whose `node` is `node`: the `stead` binary and npm scripts run on it (this
 * machine's own Node is older than Stead allows).
 */
function withNode(node: string): NodeJS.ProcessEnv {
  return { PATH: `${dirname(node)}${delimiter}${process.env.PATH}` };
}

const TYPED_TSCONFIG = {
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
};

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
  it("scaffolds an app with stead init that serves with npm run dev, passes npm test, and type-checks", async () => {
    using dir = tempDataDir("stead-consumer-");
    run("npm", ["pack", "--pack-destination", dir.path], REPO);
    const tarball = readdirSync(dir.path).find((name) => name.endsWith(".tgz"));
    assert.ok(tarball, "npm pack wrote a tarball");
    // The oldest Node that engines allows, installed from npm beside the app.
    const older = join(dir.path, "node24");
    mkdirSync(older);
    run("npm", ["install", "--no-audit", "--no-fund", "node@24"], older);
    const oldest = join(older, "node_modules", ".bin", "node");
    assert.match(run(oldest, ["--version"], older), /^v24\./);

    // A fresh directory: npm install <the packed stead>, then npx stead init app.
    const fresh = join(dir.path, "fresh");
    mkdirSync(fresh);
    const newest = withNode(process.execPath);
    run("npm", ["install", "--no-audit", "--no-fund", join(dir.path, tarball)], fresh, newest);
    // The web console's files, which the admin listener serves from beside its built module.
    const consoleDir = join(fresh, "node_modules", "stead", "dist", "admin", "console");
    for (const file of ["index.html", "console.css", "main.js"]) {
      assert.ok(existsSync(join(consoleDir, file)), `the package has dist/admin/console/${file}`);
    }
    assert.match(run("npx", ["stead", "init", "app"], fresh, newest), /Created a counter app/);
    const app = join(fresh, "app");
    run("npm", ["install", "--no-audit", "--no-fund"], app, newest);
    run("npm", ["install", "--no-audit", "--no-fund", "--save-dev", "vitest"], app, newest);
    writeFileSync(join(app, "counter.test.js"), appTest("node:test"));
    writeFileSync(join(app, "counter.vitest.test.js"), appTest("vitest"));

    for (const node of [process.execPath, oldest]) {
      const env = withNode(node);
      // npm run dev serves the counter, with the package's own stead binary.
      using data = tempDataDir();
      await using stead = await startStead("dev", ["--data-dir", data.path], {
        launcher: ["npm", "run", "dev", "--"],
        cwd: app,
        env,
      });
      const count = async () => (await fetch(`${stead.url}/apples`, { method: "POST" })).json();
      assert.deepEqual(await count(), { name: "apples", value: 1 });
      assert.deepEqual(await count(), { name: "apples", value: 2 });

      // npm test: the template's own tests.
      assert.match(run("npm", ["test"], app, env), /fail 0\n/);
      // A module of the app's own imports createRuntime and stead/testing: node --test, Vitest.
      const output = run(node, ["--test", "counter.test.js"], app);
      assert.match(output, /pass 1\n/);
      assert.match(output, /fail 0\n/);
      const vitest = join(app, "node_modules", "vitest", "vitest.mjs");
      assert.match(run(node, [vitest, "run", "counter.vitest"], app), /1 passed/);
    }

    // The generated app type-checks (its Worker against Workers types, its tests against Node's),
    // and so do the other templates' tests (those needing no package beyond stead) against the
    // published types: WebSocket tests use Response.webSocket, alarm tests stead/testing.
    const shipped = join(app, "node_modules", "stead", "templates");
    for (const template of readdirSync(shipped)) {
      const manifest = join(shipped, template, "template.json");
      if (!existsSync(manifest) || JSON.parse(readFileSync(manifest, "utf8")).dependencies)
        continue;
      for (const file of readdirSync(join(shipped, template, "test"))) {
        if (file !== "counter.test.ts")
          copyFileSync(join(shipped, template, "test", file), join(app, "test", file));
      }
    }
    run("npm", ["run", "typecheck"], app, newest);
    // A TypeScript module type-checks against the published types, which carry RPC through
    // the namespace: a wrong argument type is caught.
    const typed = join(app, "typed");
    mkdirSync(typed);
    writeFileSync(join(typed, "tsconfig.json"), JSON.stringify(TYPED_TSCONFIG));
    const tsc = () => run("npx", ["tsc", "-p", "typed"], app, newest);
    writeFileSync(join(typed, "typed.ts"), TYPED);
    tsc();
    writeFileSync(join(typed, "typed.ts"), TYPED.replace("increment(2)", 'increment("2")'));
    assert.throws(tsc, /Argument of type 'string' is not assignable to parameter of type 'number'/);

    // The app's Dockerfile, without Docker (none runs here): its install step, then its CMD with
    // its ENV, on this Node as the image's would be.
    const dockerfile = readFileSync(join(app, "Dockerfile"), "utf8");
    const install = /^RUN (npm ci [^&\n]*)/m.exec(dockerfile)?.[1];
    assert.ok(install, "the Dockerfile installs with npm ci");
    const [npm, ...installArgs] = install.trim().split(/\s+/);
    run(npm!, installArgs, app, newest);
    assert.equal(existsSync(join(app, "node_modules", "typescript")), false, "no devDependencies");
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    const imageEnv = Object.fromEntries(
      [...dockerfile.matchAll(/(STEAD_\w+)=(\S+)/g)].map(([, name, value]) => [name, value]),
    );
    using volume = tempDataDir();
    await using image = await startStead("start", cmd.slice(2), {
      launcher: [join(app, cmd[0]!), cmd[1]!],
      cwd: app,
      env: { ...newest, ...imageEnv, STEAD_DATA_DIR: volume.path },
    });
    const count = await fetch(`${image.url}/apples`, { method: "POST" });
    assert.deepEqual(await count.json(), { name: "apples", value: 1 });
  });
});
