// docs/compatibility.md against the code: its tables of globals, cloudflare: modules, Durable
// Object API and config keys must say what the code does, row for row.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { CLOUDFLARE_SPECIFIERS } from "../../src/cloudflare/specifiers.ts";
import { CONFIG_KEYS } from "../../src/config/config-keys.ts";
import {
  installWorkersGlobals,
  WORKERS_GLOBAL_NAMES,
} from "../../src/core/globals/workers-globals.ts";
import { DurableObjectNamespace } from "../../src/core/object/namespace.ts";
import { DurableObjectState } from "../../src/core/object/object-state.ts";
import { DurableObjectStorage } from "../../src/core/storage/durable-object-storage.ts";

const DOC = readFileSync(new URL("../../docs/compatibility.md", import.meta.url), "utf8");

/** The rows of the table under `## heading`: cells with surrounding spaces trimmed. */
function table(heading: string): string[][] {
  const start = DOC.indexOf(`\n## ${heading}\n`);
  assert.notEqual(start, -1, `docs/compatibility.md has a "## ${heading}" section`);
  const next = DOC.indexOf("\n## ", start + 1);
  const section = DOC.slice(start, next === -1 ? undefined : next);
  return section
    .split("\n")
    .filter((line) => line.startsWith("| ") && !line.startsWith("| ---"))
    .slice(1)
    .map((line) =>
      line
        .split("|")
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}

/** `` `name` `` -> name */
function code(cell: string): string {
  const match = /^`([^`]+)`$/.exec(cell);
  assert.ok(match, `expected a single code span, got ${cell}`);
  return match[1] as string;
}

const STATUSES = ["supported", "partial", "not supported"];

describe("docs/compatibility.md", () => {
  it("lists every Workers global the runtime installs, and each listed one exists", () => {
    installWorkersGlobals();
    const rows = table("Workers globals");
    const listed = rows.map((row) => code(row[0] ?? ""));
    assert.deepEqual([...listed].sort(), [...WORKERS_GLOBAL_NAMES].sort());
    for (const row of rows) {
      assert.ok(STATUSES.includes(row[1] ?? ""), `status of ${row[0]}: ${row[1]}`);
      assert.ok(code(row[0] ?? "") in globalThis, `${row[0]} is a global`);
    }
  });

  it("lists every cloudflare: module Stead serves, and cloudflare:workers' exports", async () => {
    const rows = table("Cloudflare modules");
    assert.deepEqual(
      rows.map((row) => code(row[0] ?? "")).sort(),
      [...CLOUDFLARE_SPECIFIERS].sort(),
    );
    const workers = rows.find((row) => row[0] === "`cloudflare:workers`")?.[1] ?? "";
    const named = [...workers.matchAll(/`(\w+)`/g)].map((match) => match[1]);
    const module = await import("../../src/cloudflare/workers.ts");
    assert.deepEqual(named.sort(), Object.keys(module).sort());
  });

  it("marks as supported only Durable Object methods that exist", () => {
    const owners: [string, object][] = [
      ["ctx.storage.", DurableObjectStorage.prototype],
      ["namespace.", DurableObjectNamespace.prototype],
      ["ctx.", DurableObjectState.prototype],
    ];
    const rows = table("Durable Object API");
    assert.ok(rows.length > 20);
    for (const [cell, status] of rows) {
      assert.ok(STATUSES.includes(status ?? ""), `status of ${cell}: ${status}`);
      const api = code(cell ?? "");
      const owner = owners.find(([prefix]) => api.startsWith(prefix));
      if (owner === undefined || status === "not supported") continue;
      const member = api.slice(owner[0].length).replace(/\(\)$/, "");
      if (!api.endsWith("()") && owner[0] !== "ctx.storage.") continue; // fields: ctx.id, ctx.exports
      assert.ok(member in owner[1], `${api} is marked ${status} but does not exist`);
    }
  });

  it("states every wrangler config key as config-keys.ts does", () => {
    const rows = table("Config keys").map(([key, support, note]) => ({
      key: code(key ?? ""),
      support,
      note,
    }));
    assert.deepEqual(
      rows,
      CONFIG_KEYS.map(({ key, support, note }) => ({ key, support, note })),
    );
  });
});
