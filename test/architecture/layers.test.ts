import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

/**
 * Which top-level folders of src/ each folder may import from (itself always). Layers point one
 * way: composition roots (cli, embedded) choose drivers and wire things; server, config,
 * loader and threads build on core; drivers implement core's seams; core imports none of them.
 */
const ALLOWED: Record<string, string[]> = {
  core: [],
  drivers: ["core"],
  threads: ["core"],
  // Membership, ownership and forwarding between nodes: calls cross as threads' wire values,
  // WebSockets are joined to node links as the HTTP front joins them to clients.
  cluster: ["core", "threads", "server"],
  server: ["core"],
  config: ["core"],
  loader: ["core"],
  // stead/testing: helpers over core, and the bindings' own (D1 migrations).
  testing: ["core", "bindings"],
  // The admin API: operator requests over a runtime's RuntimeAdmin, its listener and client,
  // and the web console's files; metrics: the runtime's counts through core, the HTTP front's
  // (HttpMetrics) from server.
  admin: ["core", "server", "feed"],
  // assets, kv, ...: one folder per binding, built on core; a store is a seam of its folder.
  bindings: ["core"],
  // The `cloudflare:*` modules apps import: built on core.
  cloudflare: ["core"],
  // The change feed: the shipper and its sinks (PostgreSQL, NATS), over core's capture seam.
  feed: ["core"],
  embedded: [
    "core",
    "drivers",
    "threads",
    "cluster",
    "config",
    "cloudflare",
    "loader",
    "bindings",
    "admin",
    "feed",
  ],
  cli: [
    "core",
    "drivers",
    "threads",
    "config",
    "server",
    "embedded",
    "loader",
    "bindings",
    "admin",
    "feed",
  ],
  // The package's entry points re-export the layers.
  ".": [
    "core",
    "drivers",
    "embedded",
    "server",
    "testing",
    "config",
    "loader",
    "types",
    "bindings",
  ],
  types: ["core"],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

function layerOf(path: string): string {
  const parts = relative(SRC, path).split(/[\\/]/);
  return parts.length === 1 ? "." : parts[0]!;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"|import\("(\.[^"]+)"\)/g;

describe("layers", () => {
  it("every import in src/ points down the layers", () => {
    const violations: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const from = layerOf(file);
      const allowed = ALLOWED[from];
      assert.ok(allowed, `src/${relative(SRC, file)}: folder "${from}" has no rule in ALLOWED`);
      for (const match of readFileSync(file, "utf8").matchAll(IMPORT)) {
        const target = layerOf(resolve(dirname(file), match[1] ?? match[2]!));
        if (target !== from && !allowed.includes(target)) {
          violations.push(
            `src/${relative(SRC, file)} imports ${match[1] ?? match[2]} (${from} -> ${target})`,
          );
        }
      }
    }
    assert.deepEqual(violations, []);
  });
});
