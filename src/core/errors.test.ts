import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { HTTP_STATUS } from "./errors.ts";

describe("error codes", () => {
  it("docs/errors.md lists exactly the codes the code defines", () => {
    const doc = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");
    const documented = [...doc.matchAll(/^\| `([A-Z0-9_]+)` \| (\d{3}) \|/gm)].map(
      (m): [string, number] => [m[1]!, Number(m[2])],
    );
    const defined = Object.entries(HTTP_STATUS);
    assert.deepEqual(
      new Map(documented.sort()),
      new Map(defined.sort()),
      "every SteadErrorCode needs a row in docs/errors.md with its HTTP status, and vice versa",
    );
  });

  it("every code in the SteadErrorCode union has an HTTP status", () => {
    const source = readFileSync(new URL("./errors.ts", import.meta.url), "utf8");
    const union = source.slice(
      source.indexOf("export type SteadErrorCode"),
      source.indexOf("/** HTTP status"),
    );
    const codes = [...union.matchAll(/\| "([A-Z0-9_]+)"/g)].map((m) => m[1]).sort();
    assert.deepEqual(codes, Object.keys(HTTP_STATUS).sort());
  });
});
