import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { changesetTables, decodeChangeset } from "./changeset-decoder.ts";
import { KvChangeLog } from "./kv-change-log.ts";

describe("KvChangeLog", () => {
  it("encodes each key's last put or delete as a _cf_KV changeset section", () => {
    const log = new KvChangeLog();
    const long = new Uint8Array(300).fill(7);
    const longer = new Uint8Array(20_000).fill(9);
    log.record("a", Uint8Array.of(1));
    log.record("b", long);
    log.record("c".repeat(200), longer);
    log.record("a", undefined);
    log.record("é", Uint8Array.of(2));
    const bytes = log.encode();
    assert.deepEqual(changesetTables(bytes), ["_cf_KV"]);
    assert.deepEqual(
      decodeChangeset(bytes).map((change) => [change.op, change.old, change.new]),
      [
        ["insert", undefined, ["b", long]],
        ["insert", undefined, ["c".repeat(200), longer]],
        ["delete", ["a", null], undefined],
        ["insert", undefined, ["é", Uint8Array.of(2)]],
      ],
    );
  });

  it("forgets what a rolled-back savepoint logged, and keeps what a released one did", () => {
    const log = new KvChangeLog();
    log.record("a", Uint8Array.of(1));
    log.savepointOpened(0);
    log.record("b", Uint8Array.of(2));
    log.savepointOpened(1);
    log.record("c", Uint8Array.of(3));
    log.savepointRolledBack(1);
    log.record("d", Uint8Array.of(4));
    const keys = () => decodeChangeset(log.encode()).map((change) => change.new?.[0]);
    assert.deepEqual(keys(), ["a", "b", "d"]);
    log.savepointRolledBack(0);
    assert.deepEqual(keys(), ["a"]);
    log.clear();
    assert.ok(log.empty);
  });
});
