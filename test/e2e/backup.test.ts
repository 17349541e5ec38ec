// `stead backup`, `stead backup verify` and `stead restore`: a backup of a running server taken
// while its objects are written holds each object at a commit boundary, with the namespaces' id
// keys, so a server started on the restored data directory serves every object again by name
// and by id; `verify` finds any change to a backup, and a restore refuses a damaged one.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { freePort } from "../support/free-port.ts";
import { runStead, type SteadProcess, startStead } from "../support/stead-process.ts";
import {
  oncePerCheck,
  postgresQuery,
  storageOptions,
  TEST_STORAGE,
  tempSchema,
  testStore,
} from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const APP = fileURLToPath(new URL("../fixtures/apps/store-app/", import.meta.url));
const TOKEN = "rw-token-for-the-backup-tests";
const FAR_ALARM = Date.UTC(2100, 0, 1);
const COLD = 30;
const HOT = 4;

async function get(server: { url: string }, path: string): Promise<string> {
  const response = await fetch(`${server.url}${path}`);
  const text = await response.text();
  assert.equal(response.status, 200, `${path}: ${text}`);
  return text;
}

/** Runs `stead <args>` with the admin token, on no data directory unless the args name one. */
function stead(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runStead(args, { cwd: APP, env: { STEAD_ADMIN_TOKEN: TOKEN, ...env } });
}

/** A `stead start` of the app on `dataDir`, with `storage` (a PostgreSQL URL) or the local driver. */
function serveOn(dataDir: string, storage: string | undefined, extra: string[] = []) {
  return startStead("start", [APP, "--data-dir", dataDir, "--threads", "2", ...extra], {
    env: { STEAD_STORAGE_URL: storage, STEAD_ADMIN_TOKEN: TOKEN },
  });
}

/** What every object of the test holds, read through the app. */
async function describeAll(server: SteadProcess, names: string[]): Promise<Map<string, any>> {
  const states = new Map<string, any>();
  for (const name of names) states.set(name, JSON.parse(await get(server, `/describe/${name}`)));
  return states;
}

describe("stead backup and restore", () => {
  it("backs up a server while it is written; a server on the restored data serves it all", async () => {
    using store = testStore();
    using scratch = tempDataDir("stead-backup-");
    const dest = join(scratch.path, "backup");
    await using server = await serveOn(store.dataDir, store.options.storage, ["--admin-port", "0"]);
    await get(server, "/seed/alpha");
    await get(server, "/seed/beta");
    const unique = await get(server, "/unique/x");
    const cold = Array.from({ length: COLD }, (_, i) => `cold${i}`);
    for (const name of cold) await get(server, `/post/${name}/${name}`);
    const hot = Array.from({ length: HOT }, (_, i) => `hot${i}`);
    const acked = new Map(hot.map((name) => [name, 0]));
    for (const name of hot) acked.set(name, Number(await get(server, `/step/${name}`)));
    const still = ["alpha", "beta", unique, ...cold];
    const before = await describeAll(server, still);

    // Writes keep coming, two at a time per hot object, all through the backup.
    let writing = true;
    const writers = hot.flatMap((name) =>
      [0, 1].map(async () => {
        while (writing) {
          const n = Number(await get(server, `/step/${name}`));
          acked.set(name, Math.max(acked.get(name)!, n));
        }
      }),
    );
    const floor = new Map(acked);
    let backup: Awaited<ReturnType<typeof stead>>;
    try {
      // Through the admin API the server announced in its data directory.
      backup = await stead(["backup", dest, "--data-dir", store.dataDir], store.env);
    } finally {
      writing = false;
      await Promise.all(writers);
    }
    assert.equal(backup.code, 0, backup.stderr);
    const total = still.length + hot.length;
    assert.match(backup.stderr, new RegExp(`Backed up ${total} objects`));
    const manifest = JSON.parse(readFileSync(join(dest, "manifest.json"), "utf8"));
    assert.equal(manifest.objects, total);
    assert.deepEqual(manifest.source, { storage: TEST_STORAGE.name, through: "admin-api" });
    assert.equal(Object.keys(manifest.files).length, total + 1, "every object and control.json");

    const verified = await stead(["backup", "verify", dest]);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, new RegExp(`is whole: ${total} objects of 1 class`));

    // Restored into a new data directory, on the local driver whatever the backup came from.
    const restoredDir = join(scratch.path, "restored");
    const restored = await stead(["restore", dest, "--data-dir", restoredDir], {
      STEAD_STORAGE_URL: undefined,
    });
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stderr, new RegExp(`Restored ${total} objects .*\\(1 class, 3 alarms`));
    const alarms = new DatabaseSync(join(restoredDir, "stead-control.sqlite"), { readOnly: true });
    const indexed = alarms
      .prepare("SELECT count(*) AS n FROM alarms WHERE time = ?")
      .get(FAR_ALARM);
    alarms.close();
    assert.equal(indexed?.n, 3, "the alarms of alpha, beta and the unique object are indexed");
    const listed = await stead(
      ["objects", "list", "Store", "--json", "--limit", "1000", "--data-dir", restoredDir],
      { STEAD_STORAGE_URL: undefined },
    );
    assert.equal(listed.code, 0, listed.stderr);
    const names = JSON.parse(listed.stdout).objects.map((o: { name: string | null }) => o.name);
    assert.equal(names.length, total);
    for (const name of ["alpha", "beta", "cold0", "hot0"]) {
      assert.ok(names.includes(name), `${name} is listed by name in the restored data`);
    }
    {
      await using again = await serveOn(restoredDir, undefined);
      await checkRestored(again, before, hot, floor, acked);
      // Restored objects take writes: the sequence goes on from where it was.
      assert.equal(await get(again, "/post/alpha/after"), "4");
    }

    // Into a new PostgreSQL schema, when the suite runs on PostgreSQL.
    if (TEST_STORAGE.name === "postgres") {
      const target = storageOptions().storage!;
      const intoPostgres = await stead(["restore", dest], { STEAD_STORAGE_URL: target });
      assert.equal(intoPostgres.code, 0, intoPostgres.stderr);
      const schema = new URL(target).searchParams.get("schema")!;
      const rows = await postgresQuery(
        `SELECT count(*)::int AS n FROM "${schema}".alarms WHERE time = $1`,
        [FAR_ALARM],
      );
      assert.deepEqual(rows, [{ n: 3 }]);
      const again = await stead(["restore", dest], { STEAD_STORAGE_URL: target });
      assert.equal(again.code, 1, "a schema that holds objects is refused");
      assert.match(again.stderr, /already has Durable Object namespaces/);
      using workingCopies = tempDataDir("stead-restored-pg-");
      await using onPostgres = await serveOn(workingCopies.path, target);
      await checkRestored(onPostgres, before, hot, floor, acked);
    }

    // A data directory that holds data is refused, and replaced only with --force.
    const refused = await stead(["restore", dest, "--data-dir", restoredDir], {
      STEAD_STORAGE_URL: undefined,
    });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /already holds data, so nothing was restored/);

    // Any change to the backup is found, and a restore then writes nothing.
    const [path] = Object.keys(manifest.files).filter((file) => file.includes(unique));
    const file = join(dest, path!);
    const bytes = readFileSync(file);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
    writeFileSync(file, bytes);
    const tampered = await stead(["backup", "verify", dest]);
    assert.equal(tampered.code, 1);
    assert.match(tampered.stderr, new RegExp(`${path} does not match its SHA-256`));
    const elsewhere = join(scratch.path, "elsewhere");
    const refusedDamaged = await stead(["restore", dest, "--data-dir", elsewhere], {
      STEAD_STORAGE_URL: undefined,
    });
    assert.equal(refusedDamaged.code, 1);
    assert.match(refusedDamaged.stderr, /is damaged, so nothing was restored/);
    assert.equal(existsSync(elsewhere), false, "nothing was written");
    rmSync(join(dest, "manifest.json"));
    const unfinished = await stead(["backup", "verify", dest]);
    assert.equal(unfinished.code, 1);
    assert.match(unfinished.stderr, /has no manifest\.json: .*did not finish/);
  });

  it("backs up a data directory no server holds, and replaces a data directory with --force", async (t) => {
    if (TEST_STORAGE.name !== "local") {
      t.skip("objects in PostgreSQL are backed up through a server's admin API");
      return;
    }
    using store = testStore();
    using scratch = tempDataDir("stead-backup-");
    {
      await using server = await serveOn(store.dataDir, undefined);
      await get(server, "/seed/alpha");
    }
    const dest = join(scratch.path, "offline");
    const backup = await stead(["backup", dest, "--data-dir", store.dataDir]);
    assert.equal(backup.code, 0, backup.stderr);
    const manifest = JSON.parse(readFileSync(join(dest, "manifest.json"), "utf8"));
    assert.deepEqual(manifest.source, { storage: "local", through: "data-dir" });
    assert.equal(manifest.objects, 1);
    const notEmpty = await stead(["backup", dest, "--data-dir", store.dataDir]);
    assert.match(notEmpty.stderr, /is not empty: a backup goes into a new or empty directory/);

    // --force: the restored directory takes the place of the old one, which is kept beside it.
    using other = testStore();
    {
      await using server = await serveOn(other.dataDir, undefined);
      await get(server, "/post/zed/z");
    }
    const forced = await stead(["restore", dest, "--data-dir", other.dataDir, "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
    const kept = readdirSync(join(other.dataDir, "..")).filter((name) =>
      name.startsWith(`${other.dataDir.split("/").at(-1)}.replaced-`),
    );
    assert.equal(kept.length, 1, "the old data directory is kept");
    {
      await using server = await serveOn(other.dataDir, undefined);
      assert.equal(JSON.parse(await get(server, "/describe/alpha")).alarm, FAR_ALARM);
    }
    rmSync(join(other.dataDir, "..", kept[0]!), { recursive: true, force: true });
  });

  it("backs up every object of a cluster through one node, whichever node holds it", {
    skip: oncePerCheck(),
  }, async () => {
    await using schema = tempSchema("e2e_backup");
    using scratch = tempDataDir("stead-backup-");
    const dirs = [join(scratch.path, "n0"), join(scratch.path, "n1")];
    const nodes: SteadProcess[] = [];
    try {
      for (const [i, dir] of dirs.entries()) {
        const port = await freePort();
        nodes.push(
          await startStead(
            "start",
            [APP, "--data-dir", dir, "--threads", "0", "--admin-port", "0"],
            {
              env: {
                STEAD_ADMIN_TOKEN: TOKEN,
                STEAD_CLUSTER_URL: schema.url,
                STEAD_STORAGE_URL: schema.url,
                STEAD_CLUSTER_NODE_ID: `n${i}`,
                STEAD_CLUSTER_ADVERTISE: `127.0.0.1:${port}`,
                STEAD_CLUSTER_SECRET: "e2e-cluster-secret-0123456789",
              },
            },
          ),
        );
      }
      // Each object is first asked for on one node, which then holds it.
      const names = Array.from({ length: 6 }, (_, i) => `c${i}`);
      for (const [i, name] of names.entries()) {
        const node = nodes[i % 2]!;
        await get(node, `/seed/${name}`);
        await get(node, `/step/${name}`);
      }
      const before = await describeAll(nodes[0]!, names);
      const admin = JSON.parse(readFileSync(join(dirs[0]!, "admin.json"), "utf8")).url as string;
      const dest = join(scratch.path, "backup");
      const backup = await stead(["backup", dest, "--url", admin]);
      assert.equal(backup.code, 0, backup.stderr);
      assert.match(backup.stderr, /Backed up 6 objects/);
      const restoredDir = join(scratch.path, "restored");
      const restored = await stead(["restore", dest, "--data-dir", restoredDir]);
      assert.equal(restored.code, 0, restored.stderr);
      await using again = await serveOn(restoredDir, undefined);
      assert.deepEqual(await describeAll(again, names), before);
    } finally {
      for (const node of nodes) await node.stop().catch(() => {});
    }
  });
});

/**
 * The restored server holds every object written before the backup as it was, and each hot
 * object at a state it had at a commit: its counter and log agree, at least what was
 * acknowledged before the backup started and at most what was written by its end.
 */
async function checkRestored(
  server: SteadProcess,
  before: Map<string, any>,
  hot: string[],
  floor: Map<string, number>,
  ceiling: Map<string, number>,
): Promise<void> {
  assert.deepEqual(await describeAll(server, [...before.keys()]), before);
  for (const name of hot) {
    const state = JSON.parse(await get(server, `/describe/${name}`));
    const n = state.kv.n as number;
    assert.deepEqual(state.log, [{ rows: n, max: n }], `${name}: counter and log agree`);
    assert.ok(n >= floor.get(name)!, `${name}: ${n} >= ${floor.get(name)} acknowledged before`);
    // Two writers per object: at most two more than acknowledged had committed.
    assert.ok(n <= ceiling.get(name)! + 2, `${name}: ${n} <= ${ceiling.get(name)} + 2`);
  }
}
