// The alarm index several processes share through PostgreSQL: due alarms are claimed by one
// scheduler at a time (FOR UPDATE SKIP LOCKED and a lease), a write ends a claim, and a closing
// driver gives its claims back.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { oncePerCheck, tempSchema } from "../../../test/support/storage.ts";
import { tempDataDir } from "../../../test/support/temp-dir.ts";
import type { AlarmRecord } from "../../core/storage/driver.ts";
import { PostgresDriver } from "./postgres-driver.ts";

const LEASE = 30_000;

function alarm(n: number, time: number): AlarmRecord {
  const id = n.toString(16).padStart(64, "0");
  return { namespace: "Ns", id, name: undefined, time, scheduledTime: time, retryCount: 0 };
}

/** Two drivers on one schema, as two processes (or object threads) sharing the storage. */
async function twoProcesses() {
  const schema = tempSchema("alarms");
  const dirs = [tempDataDir("stead-alarms-"), tempDataDir("stead-alarms-")] as const;
  const [a, b] = await Promise.all(
    dirs.map((dir) => PostgresDriver.connect({ url: schema.url, dataDir: dir.path })),
  );
  return {
    a: a!,
    b: b!,
    async [Symbol.asyncDispose]() {
      await Promise.all([a!.close(), b!.close()]);
      await schema[Symbol.asyncDispose]();
      for (const dir of dirs) dir[Symbol.dispose]();
    },
  };
}

const ids = (records: AlarmRecord[]) => records.map((record) => record.id).sort();

describe("PostgreSQL alarm index shared by several processes", { skip: oncePerCheck() }, () => {
  it("gives each due alarm to one claimer until its lease ends or it is written again", async () => {
    await using p = await twoProcesses();
    p.a.alarms.set(alarm(1, 100));
    p.a.alarms.set(alarm(2, 5_000));
    await p.a.alarms.flush();
    const claimed = await p.b.alarms.claimDue(1_000, 10, LEASE);
    assert.deepEqual(ids(claimed), [alarm(1, 100).id], "b sees a's write, due only");
    assert.deepEqual(claimed[0], alarm(1, 100));
    assert.deepEqual(await p.a.alarms.claimDue(1_000, 10, LEASE), [], "held by b");
    assert.deepEqual(
      ids(await p.a.alarms.claimDue(1_000 + LEASE, 10, LEASE)),
      [alarm(1, 100).id, alarm(2, 5_000).id],
      "b's lease ended",
    );
    // A write makes it a new alarm that anyone may claim when due.
    p.a.alarms.set(alarm(1, 200));
    await p.a.alarms.flush();
    assert.deepEqual(ids(await p.b.alarms.claimDue(1_000 + LEASE, 10, LEASE)), [alarm(1, 200).id]);
  });

  it("splits a crowd of due alarms between racing claimers, none twice", async () => {
    await using p = await twoProcesses();
    for (let n = 0; n < 300; n++) p.a.alarms.set(alarm(n, n));
    await p.a.alarms.flush();
    const rounds = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 === 0 ? p.a : p.b).alarms.claimDue(1_000, 40, LEASE),
      ),
    );
    const all = rounds.flatMap(ids);
    assert.equal(new Set(all).size, all.length, "no alarm claimed twice");
    assert.equal(all.length, 300, "every due alarm claimed");
  });

  it("gives its claims back when it closes, and refresh shows what others wrote", async () => {
    await using p = await twoProcesses();
    p.a.alarms.set(alarm(7, 50));
    assert.deepEqual(p.b.alarms.earliest(10), [], "b has not looked yet");
    await p.a.alarms.flush();
    await p.b.alarms.refresh(0);
    assert.deepEqual(ids(p.b.alarms.earliest(10)), [alarm(7, 50).id]);
    assert.equal((await p.a.alarms.claimDue(100, 10, LEASE)).length, 1);
    await p.b.alarms.refresh(100);
    assert.deepEqual(p.b.alarms.earliest(10), [], "claimed by a");
    await p.a.close();
    assert.deepEqual(ids(await p.b.alarms.claimDue(100, 10, LEASE)), [alarm(7, 50).id]);
  });

  it("knows an object's alarm once it prepared the object, for get()", async () => {
    await using p = await twoProcesses();
    const record = alarm(9, 1_234);
    p.a.alarms.set(record);
    await p.a.alarms.flush();
    assert.equal(p.b.alarms.get("Ns", record.id), undefined);
    await p.b.prepareObject("Ns", record.id);
    assert.deepEqual(p.b.alarms.get("Ns", record.id), record);
  });
});
