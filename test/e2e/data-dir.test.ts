// The data directory as an operator meets it, through `stead start`: one process at a time,
// private modes, and errors that name the file, what is wrong and the fix. All of it is about
// the local driver, whose data directory is the objects' durable state.
import assert from "node:assert/strict";
import {
  chmodSync,
  chownSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { createRuntime, SteadError } from "../../src/index.ts";
import { copyTemplate } from "../support/apps.ts";
import { runStead, type SteadProcessOptions, startStead } from "../support/stead-process.ts";
import { skipUnless } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

async function increment(url: string, name: string): Promise<Response> {
  return fetch(`${url}/${name}`, { method: "POST" });
}

async function read(url: string, name: string): Promise<number> {
  const response = await fetch(`${url}/${name}`);
  assert.equal(response.status, 200, await response.clone().text());
  return ((await response.json()) as { value: number }).value;
}

/** Every directory and file under `dir`, with its permission bits. */
function modes(dir: string): Array<{ path: string; mode: number; isDir: boolean }> {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    found.push({ path, mode: statSync(path).mode & 0o777, isDir: entry.isDirectory() });
  }
  return found;
}

/** The database file of the counter named `name` (read while no server runs). */
function counterFile(dataDir: string, name: string): string {
  const dir = join(dataDir, "Counter");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sqlite"))) {
    const db = new DatabaseSync(join(dir, file), { readOnly: true });
    try {
      const row = db.prepare("SELECT value FROM _cf_METADATA WHERE key = 'name'").get();
      if (row?.value === name) return join(dir, file);
    } finally {
      db.close();
    }
  }
  throw new Error(`no database of counter ${name} in ${dir}`);
}

describe("one process per data directory", {
  skip: skipUnless("localFiles", "checks the lock that guards the local driver's data directory"),
}, () => {
  it("a second stead start on the directory exits at once naming it and the holder; the first loses nothing", async () => {
    using tmp = tempDataDir();
    const app = await copyTemplate("counter", tmp.path);
    const dataDir = join(tmp.path, "data");
    const first = await startStead("start", [app, "--data-dir", dataDir]);
    try {
      const increments = Array.from({ length: 100 }, () => increment(first.url, "n"));
      const second = await runStead(["start", app, "--data-dir", dataDir, "--port", "0"]);
      assert.equal(second.code, 1, `the second server must exit by itself:\n${second.stderr}`);
      assert.ok(second.stderr.includes(dataDir), second.stderr);
      assert.ok(second.stderr.includes(`pid ${first.child.pid}`), second.stderr);
      assert.doesNotMatch(second.stdout, /serving/);
      const acknowledged = (await Promise.all(increments)).filter((r) => r.status === 200);
      assert.equal(acknowledged.length, 100);
    } finally {
      assert.equal((await first.stop()).code, 0);
    }
    await using again = await startStead("start", [app, "--data-dir", dataDir]);
    assert.equal(await read(again.url, "n"), 100);
  });

  it("createRuntime on a directory a server holds is refused, changing nothing", async () => {
    using tmp = tempDataDir();
    const app = await copyTemplate("counter", tmp.path);
    const dataDir = join(tmp.path, "data");
    await using server = await startStead("start", [app, "--data-dir", dataDir]);
    const before = modes(dataDir).map((e) => e.path);
    const refusal = await createRuntime({ main: {}, dataDir }).then(
      (runtime) => runtime.dispose(),
      (error: unknown) => error,
    );
    assert.ok(refusal instanceof SteadError, `refused, got ${String(refusal)}`);
    assert.equal(refusal.code, "DATA_DIR_LOCKED");
    assert.ok(refusal.message.includes(dataDir), refusal.message);
    assert.ok(refusal.message.includes(`pid ${server.child.pid}`), refusal.message);
    assert.deepEqual(
      modes(dataDir).map((e) => e.path),
      before,
    );
  });
});

describe("data directory permissions", {
  skip: skipUnless("localFiles", "checks the modes of the data directory's files"),
}, () => {
  it("creates the directory 0700 and every file 0600 whatever the umask, without a warning", async () => {
    using tmp = tempDataDir();
    const app = await copyTemplate("counter", tmp.path);
    const dataDir = join(tmp.path, "new", "data");
    const server = await startStead("start", [app, "--data-dir", dataDir], { umask: 0o000 });
    assert.equal((await increment(server.url, "a")).status, 200);
    const found = [{ path: dataDir, mode: statSync(dataDir).mode & 0o777, isDir: true }];
    found.push(...modes(dataDir));
    assert.ok(
      found.some((e) => e.path.endsWith(".sqlite-wal")),
      "an object's WAL is checked too",
    );
    for (const { path, mode, isDir } of found) {
      assert.equal(mode.toString(8), isDir ? "700" : "600", path);
    }
    await server.stop();
    assert.doesNotMatch(server.stderr(), /warn/i);
  });

  it("stead start warns at startup when the directory is readable by others", async () => {
    using tmp = tempDataDir();
    const app = await copyTemplate("counter", tmp.path);
    const dataDir = join(tmp.path, "data");
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    await using server = await startStead("start", [app, "--data-dir", dataDir]);
    const warnings = server
      .stderr()
      .split("\n")
      .filter((line) => line.includes('"level":"warn"'));
    assert.equal(warnings.length, 1, server.stderr());
    const warning = warnings[0]!;
    assert.ok(warning.includes(`chmod 700 ${dataDir}`), warning);
    assert.match(warning, /mode 0755/);
  });
});

describe("errors that name the file", {
  skip: skipUnless("localFiles", "makes the data directory's files unreadable or corrupt"),
}, () => {
  /** Root ignores permission bits: the test then runs the server as nobody. */
  const asUser: SteadProcessOptions = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const user = asUser.uid ?? process.getuid?.() ?? -1;

  it("a read-only data directory, and one owned by another user", async () => {
    using tmp = tempDataDir();
    chmodSync(tmp.path, 0o755);
    const app = await copyTemplate("counter", tmp.path);
    const dataDir = join(tmp.path, "data");
    mkdirSync(dataDir, { mode: 0o700 });
    if (asUser.uid !== undefined) chownSync(dataDir, asUser.uid, asUser.gid!);
    const first = await startStead("start", [app, "--data-dir", dataDir], asUser);
    assert.equal((await increment(first.url, "a")).status, 200);
    await first.stop();

    chmodSync(dataDir, 0o555);
    const readOnly = await runStead(["start", app, "--data-dir", dataDir, "--port", "0"], asUser);
    assert.equal(readOnly.code, 1, readOnly.stderr);
    assert.match(readOnly.stderr, new RegExp(`Cannot write ${dataDir}: permission denied`));
    assert.match(readOnly.stderr, /its mode is 0555/);
    assert.ok(readOnly.stderr.includes(`chmod 700 ${dataDir}`), readOnly.stderr);
    assert.doesNotMatch(readOnly.stderr, /disk I\/O error|unable to open/);

    if (asUser.uid !== undefined) {
      chmodSync(dataDir, 0o700);
      chownSync(dataDir, 0, 0);
      const foreign = await runStead(["start", app, "--data-dir", dataDir, "--port", "0"], asUser);
      assert.equal(foreign.code, 1, foreign.stderr);
      assert.ok(
        foreign.stderr.includes(`owner uid 0, mode 0700; Stead runs as uid ${user}`),
        foreign.stderr,
      );
      assert.ok(foreign.stderr.includes(`chown -R ${user} ${dataDir}`), foreign.stderr);
    }
  });

  it("a corrupted control database stops stead start with the file and the fix", async () => {
    using tmp = tempDataDir();
    const app = await copyTemplate("counter", tmp.path);
    const dataDir = join(tmp.path, "data");
    const first = await startStead("start", [app, "--data-dir", dataDir]);
    assert.equal((await increment(first.url, "a")).status, 200);
    await first.stop();
    const control = join(dataDir, "stead-control.sqlite");
    rmSync(`${control}-wal`, { force: true });
    writeFileSync(control, Buffer.alloc(8192, "not a database "));

    const result = await runStead(["start", app, "--data-dir", dataDir, "--port", "0"]);
    assert.equal(result.code, 1, result.stderr);
    assert.ok(
      result.stderr.includes(`The control database ${control} is corrupted`),
      result.stderr,
    );
    assert.match(result.stderr, /Restore it from a backup/);
  });

  it("a corrupted object database fails only that object, naming its file", async () => {
    using tmp = tempDataDir();
    const app = await copyTemplate("counter", tmp.path);
    const dataDir = join(tmp.path, "data");
    const first = await startStead("start", [app, "--data-dir", dataDir]);
    for (const name of ["a", "b"]) assert.equal((await increment(first.url, name)).status, 200);
    await first.stop();
    const broken = counterFile(dataDir, "b");
    rmSync(`${broken}-wal`, { force: true });
    writeFileSync(broken, Buffer.alloc(8192, "not a database "));

    await using server = await startStead("start", [app, "--data-dir", dataDir]);
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await increment(server.url, "b");
      assert.equal(response.status, 500);
      const body = await response.text();
      assert.ok(body.includes(`The object database ${broken} is corrupted`), body);
      assert.match(body, /Only this object is affected/);
    }
    assert.equal((await increment(server.url, "a")).status, 200);
    assert.equal(await read(server.url, "a"), 2);
    assert.equal(await read(server.url, "c"), 0);
  });
});
