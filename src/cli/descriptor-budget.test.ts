import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { maxConnections } from "./descriptor-budget.ts";
import { UsageError } from "./options.ts";

describe("maxConnections", () => {
  it("takes a quarter of the open-file limit by default, beside the databases' half", () => {
    // 4,096 files: 682 databases (2,046 files) by default, 1,024 connections.
    assert.equal(maxConnections(undefined, undefined, 4096), 1024);
    assert.equal(maxConnections(undefined, undefined, 1_048_576), 262_144);
  });

  it("takes less when explicit databases leave less, keeping an eighth of the limit spare", () => {
    // 3,000 databases are 9,000 files of 12,000; seven eighths is 10,500: 1,500 left.
    assert.equal(maxConnections(undefined, 3000, 12_000), 1500);
  });

  it("accepts an explicit value the databases leave room for, and refuses one they do not", () => {
    assert.equal(maxConnections(9000, undefined, 20_000), 9000);
    assert.throws(
      () => maxConnections(5000, 100, 4096),
      (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.equal(
          error.message,
          "--max-connections 5,000 with 100 open databases (three files each) needs about 5,300 open files, more than the 3,584 this process can spare of the 4,096 it may open (ulimit -n). Set --max-connections / STEAD_MAX_CONNECTIONS to at most 3,284, lower --max-open-databases / STEAD_MAX_OPEN_DATABASES, or raise the limit (ulimit -n, or LimitNOFILE= in a systemd unit).",
        );
        return true;
      },
    );
  });

  it("uses 10,000, or the value given, where the limit is unknown", () => {
    assert.equal(maxConnections(undefined, undefined, undefined), 10_000);
    assert.equal(maxConnections(50_000, undefined, undefined), 50_000);
  });
});
