import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { maxOpenDatabases, openFileLimit } from "./open-file-limit.ts";

describe("open databases under the open-file limit", () => {
  it("defaults to 2,000, or to what half the limit holds at three files each", () => {
    assert.equal(maxOpenDatabases(undefined, undefined), 2_000);
    assert.equal(maxOpenDatabases(undefined, 1_048_576), 2_000);
    assert.equal(maxOpenDatabases(undefined, 4_096), 682);
    assert.equal(maxOpenDatabases(undefined, 1_024), 170);
    assert.equal(maxOpenDatabases(undefined, 4), 1);
  });

  it("keeps a value that fits in three quarters of the limit and refuses one that does not", () => {
    assert.equal(maxOpenDatabases(1_024, 4_096), 1_024);
    assert.throws(
      () => maxOpenDatabases(1_025, 4_096),
      /maxOpenDatabases 1,025 needs about 3,075 open files .* only 4,096 .* at most 1,024/,
    );
    assert.equal(maxOpenDatabases(50_000, undefined), 50_000);
    assert.throws(() => maxOpenDatabases(0, undefined), /must be a positive integer, got 0/);
  });

  it("reads this process's limit", () => {
    const limit = openFileLimit();
    if (process.platform === "linux") assert.ok(limit !== undefined && limit > 0);
  });
});
