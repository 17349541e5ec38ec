import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { tempDataDir } from "./temp-dir.ts";

/** Writes `files` (path relative to `dir` -> text) under `dir`, creating directories. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

/**
 * A temporary app directory: one `Room` class (SQLite-backed, bound as `ROOM`) whose module is
 * `worker` (JavaScript), removed when disposed.
 */
export function roomApp(worker: string, prefix: string): { path: string } & Disposable {
  const app = tempDataDir(prefix);
  writeFiles(app.path, {
    "wrangler.jsonc": JSON.stringify({
      name: "chat",
      main: "src/index.js",
      compatibility_date: "2026-01-01",
      durable_objects: { bindings: [{ name: "ROOM", class_name: "Room" }] },
      migrations: [{ tag: "v1", new_sqlite_classes: ["Room"] }],
    }),
    "src/index.js": worker,
  });
  return app;
}
