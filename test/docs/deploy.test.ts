// docs/deploy.md and deploy/Dockerfile name flags and STEAD_* variables: each must be one that
// `stead start` has, so a recipe copied from them runs. (The consumer test runs the Dockerfile's
// install and CMD against the packed package.)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { runStead } from "../support/stead-process.ts";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

describe("the deployment recipes", () => {
  it("use only flags and variables stead start has", async () => {
    const help = await runStead(["start", "--help"]);
    assert.equal(help.code, 0);
    for (const path of ["docs/deploy.md", "deploy/Dockerfile"]) {
      const text = read(path);
      for (const [variable] of text.matchAll(/STEAD_[A-Z_]+/g)) {
        assert.ok(help.stdout.includes(variable), `${path}: ${variable} is in stead start --help`);
      }
      const execStart = /^ExecStart=.* start \. (.*)$/m.exec(text)?.[1] ?? "";
      for (const [flag] of execStart.matchAll(/--[a-z-]+/g)) {
        assert.ok(help.stdout.includes(flag), `${path}: ${flag} is in stead start --help`);
      }
    }
    assert.match(read("docs/deploy.md"), /^ExecStart=.* start \. --data-dir /m);
  });
});
