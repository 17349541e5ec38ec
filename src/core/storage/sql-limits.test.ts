import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import {
  checkBoundValueLength,
  checkStatementLength,
  SQLITE_DATABASE_LIMITS,
} from "./sql-limits.ts";

describe("SQL limits", () => {
  it("are connection limits node:sqlite accepts", () => {
    const db = new DatabaseSync(":memory:", { limits: SQLITE_DATABASE_LIMITS });
    assert.equal(db.limits.attach, 0);
    assert.equal(db.limits.length, 2 * 1024 * 1024);
    const compound = Array.from({ length: 6 }, (_, i) => `SELECT ${i}`).join(" UNION ");
    assert.throws(() => db.exec(compound), /too many terms/);
    assert.throws(() => db.prepare("SELECT 'a' LIKE ?").get("%".repeat(51)), /pattern too complex/);
  });

  it("measure statements and values in UTF-8 bytes", () => {
    checkStatementLength("x".repeat(100_000));
    assert.throws(() => checkStatementLength("é".repeat(50_001)), /statement too long/);
    checkBoundValueLength("é".repeat(1024 * 1024));
    assert.throws(() => checkBoundValueLength("é".repeat(1024 * 1024 + 1)), /too big/);
    assert.throws(() => checkBoundValueLength(new Uint8Array(2 * 1024 * 1024 + 1)), /too big/);
  });
});
