// A queue send is acknowledged only after the WAL of <dataDir>/queues.sqlite is fdatasynced past
// its insert: every response to a send follows a sync of that WAL after the last write to it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { writeFiles } from "../support/app-files.ts";
import { queuesConfig } from "../support/queues-app.ts";
import { startStead } from "../support/stead-process.ts";
import { skipUnless } from "../support/storage.ts";
import { attachStrace, isResponse, missingStrace, stopStrace } from "../support/strace.ts";
import { tempDataDir } from "../support/temp-dir.ts";

describe("queue sends at the system-call level (strace)", {
  skip:
    skipUnless("localFiles", "traces the fdatasync calls of the data directory's queues.sqlite") ||
    missingStrace(),
}, () => {
  it("every acknowledged send follows an fdatasync of the queues' WAL after its write", async (t) => {
    using data = tempDataDir("stead-queue-syscalls-");
    using app = tempDataDir("stead-queue-syscalls-app-");
    // Producers only: no consumer's lease writes interleave with the sends.
    const config = JSON.parse(queuesConfig());
    delete config.queues.consumers;
    writeFiles(app.path, { "wrangler.jsonc": JSON.stringify(config) });
    await using stead = await startStead("start", [app.path, "--threads", "0"], {
      store: { dataDir: data.path, env: {} },
    });
    using logDir = tempDataDir("stead-strace-");
    const log = join(logDir.path, "strace.log");
    const strace = await attachStrace(stead.child.pid!, log);
    // One at a time, then twenty at once (which may share syncs).
    for (let n = 0; n < 10; n++) {
      const response = await fetch(`${stead.url}/send`, { method: "POST", body: `{"n":${n}}` });
      assert.equal(await response.text(), "sent");
    }
    await Promise.all(
      Array.from({ length: 20 }, async (_, n) => {
        const response = await fetch(`${stead.url}/send`, { method: "POST", body: `{"m":${n}}` });
        assert.equal(await response.text(), "sent");
      }),
    );
    const calls = await stopStrace(strace, log, 30);

    const wal = (target: string) => target.endsWith("/queues.sqlite-wal");
    const responses = calls.filter(isResponse);
    assert.equal(responses.length, 30, "one response per send");
    // One send at a time: each response follows a sync of the WAL after the send's write.
    const sequential = calls.indexOf(responses[9]!);
    let writes = 0;
    let syncedSinceWrite = true;
    for (const [index, call] of calls.slice(0, sequential + 1).entries()) {
      if (call.name === "pwrite64" && wal(call.target)) {
        writes++;
        syncedSinceWrite = false;
      } else if (call.name === "fdatasync" && wal(call.target)) {
        syncedSinceWrite = true;
      } else if (responses.includes(call)) {
        assert.ok(syncedSinceWrite, `response at call ${index} after an unsynced queue write`);
      }
    }
    assert.ok(writes >= 10, `the sends wrote the WAL (${writes} writes)`);
    // Twenty at once: the last response follows a sync after the last write, and sends issued
    // together shared syncs.
    const concurrent = calls.slice(sequential + 1);
    const lastWrite = concurrent.findLastIndex((c) => c.name === "pwrite64" && wal(c.target));
    const lastResponse = concurrent.findLastIndex(isResponse);
    assert.ok(
      concurrent
        .slice(lastWrite, lastResponse)
        .some((c) => c.name === "fdatasync" && wal(c.target)),
      "the last write was synced before the last response",
    );
    const syncs = concurrent.filter((c) => c.name === "fdatasync" && wal(c.target)).length;
    assert.ok(syncs >= 1 && syncs <= 20, `${syncs} syncs for 20 sends at once`);
    t.diagnostic(`${syncs} fdatasyncs of the WAL for 20 sends at once`);
  });
});
