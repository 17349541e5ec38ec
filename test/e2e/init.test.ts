// `stead init`: every template scaffolds into a new directory with what the app needs, and bad
// input (an unknown template, files in the way) is refused with the fix, writing nothing.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "jsonc-parser";
import { TEMPLATES } from "../support/apps.ts";
import { runStead } from "../support/stead-process.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const REPO_PACKAGE = JSON.parse(readFileSync(join(TEMPLATES, "..", "package.json"), "utf8"));

const TEMPLATE_NAMES = readdirSync(TEMPLATES).filter((name) =>
  existsSync(join(TEMPLATES, name, "template.json")),
);

function readJson(path: string) {
  return parse(readFileSync(path, "utf8"));
}

describe("stead init", () => {
  for (const template of TEMPLATE_NAMES) {
    it(`scaffolds the ${template} template`, async () => {
      using work = tempDataDir("stead-init-");
      const result = await runStead(["init", "My App", "--template", template], {
        cwd: work.path,
      });
      assert.equal(result.code, 0, result.stderr);
      const app = join(work.path, "My App");
      assert.match(result.stdout, new RegExp(`Created a ${template} app in `));
      assert.match(result.stdout, /cd "My App"\n {2}npm install\n {2}npm run dev/);

      const manifest = readJson(join(TEMPLATES, template, "template.json"));
      const pkg = readJson(join(app, "package.json"));
      assert.equal(pkg.name, "my-app");
      assert.equal(pkg.type, "module");
      assert.equal(pkg.description, manifest.description);
      assert.deepEqual(Object.keys(pkg.scripts), ["dev", "start", "test", "typecheck"]);
      const client = existsSync(join(TEMPLATES, template, "client", "tsconfig.json"));
      assert.equal(
        pkg.scripts.typecheck,
        `tsc -p . && tsc -p test${client ? " && tsc -p client" : ""}`,
      );
      assert.equal(pkg.dependencies.stead, `^${REPO_PACKAGE.version}`);
      assert.deepEqual(pkg.engines, REPO_PACKAGE.engines);
      // What the template needs beyond Stead is what the repository tests it with (esbuild, for
      // a build command, is one of Stead's own dependencies).
      for (const [name, range] of Object.entries({
        ...manifest.dependencies,
        ...manifest.devDependencies,
      })) {
        const tested = REPO_PACKAGE.devDependencies[name] ?? REPO_PACKAGE.dependencies[name];
        assert.equal(tested, range, `${name} in package.json`);
        assert.equal(pkg.dependencies[name] ?? pkg.devDependencies[name], range);
      }
      assert.equal(readJson(join(app, "wrangler.jsonc")).name, "my-app");
      assert.match(readFileSync(join(app, ".gitignore"), "utf8"), /^\.stead\/$/m);
      assert.match(readFileSync(join(app, "README.md"), "utf8"), /npm install && npm run dev/);
      assert.match(readFileSync(join(app, "README.md"), "utf8"), /npm test/);
      assert.ok(readdirSync(join(app, "test")).some((file) => file.endsWith(".test.ts")));
      assert.ok(existsSync(join(app, "src", "index.ts")));
      assert.ok(existsSync(join(app, "tsconfig.json")));
      assert.match(readFileSync(join(app, "Dockerfile"), "utf8"), /^FROM node:/m);
      assert.match(readFileSync(join(app, ".dockerignore"), "utf8"), /^\.stead$/m);
      assert.equal(existsSync(join(app, "template.json")), false);
      assert.equal(existsSync(join(app, ".stead")), false);
    });
  }

  it("uses the counter template and the current directory by default", async () => {
    using work = tempDataDir("stead-init-");
    const result = await runStead(["init"], { cwd: work.path });
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, /\bcd\b/);
    assert.match(readFileSync(join(work.path, "src", "index.ts"), "utf8"), /class Counter/);
  });

  it("lists the templates in its help", async () => {
    const help = await runStead(["init", "--help"]);
    assert.equal(help.code, 0);
    for (const template of TEMPLATE_NAMES)
      assert.match(help.stdout, new RegExp(`^  ${template} `, "m"));
  });

  it("refuses an unknown template, listing the known ones", async () => {
    using work = tempDataDir("stead-init-");
    const result = await runStead(["init", "app", "--template", "todo"], { cwd: work.path });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /There is no template named "todo"\. The templates are: /);
    for (const template of TEMPLATE_NAMES) assert.ok(result.stderr.includes(template));
    assert.equal(existsSync(join(work.path, "app")), false);
  });

  it("refuses to overwrite files, naming them, and writes nothing", async () => {
    using work = tempDataDir("stead-init-");
    mkdirSync(join(work.path, "src"));
    writeFileSync(join(work.path, "src", "index.ts"), "// mine\n");
    writeFileSync(join(work.path, "package.json"), "{}\n");
    writeFileSync(join(work.path, "notes.txt"), "kept\n");
    const result = await runStead(["init", "."], { cwd: work.path });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /already has package\.json, src\/index\.ts, which stead init would overwrite\. Nothing was written/,
    );
    assert.deepEqual(readdirSync(work.path).sort(), ["notes.txt", "package.json", "src"]);
    assert.equal(readFileSync(join(work.path, "src", "index.ts"), "utf8"), "// mine\n");

    // Other files are no obstacle.
    using other = tempDataDir("stead-init-");
    writeFileSync(join(other.path, "notes.txt"), "kept\n");
    assert.equal((await runStead(["init", other.path])).code, 0);
    assert.equal(readFileSync(join(other.path, "notes.txt"), "utf8"), "kept\n");
  });

  it("refuses a file as the app directory", async () => {
    using work = tempDataDir("stead-init-");
    writeFileSync(join(work.path, "app"), "");
    const result = await runStead(["init", "app"], { cwd: work.path });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /app is a file\. Pass a new or empty directory/);
  });
});
