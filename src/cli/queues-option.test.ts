// `--queues` / STEAD_QUEUES_URL: where stead start and stead dev keep queues.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { tempDataDir } from "../../test/support/temp-dir.ts";
import { resolveServerOptions, UsageError } from "./options.ts";

describe("--queues", () => {
  it("takes a NATS URL from the flag, else from STEAD_QUEUES_URL; unset, the data directory", () => {
    using dir = tempDataDir("stead-queues-flag-");
    const env = { STEAD_QUEUES_URL: "nats://10.0.0.2:4222?prefix=app" };
    assert.equal(
      resolveServerOptions(dir.path, { queues: "nats://127.0.0.1:4222" }, { dev: false }, env)
        .queues,
      "nats://127.0.0.1:4222",
    );
    assert.equal(
      resolveServerOptions(dir.path, {}, { dev: false }, env).queues,
      "nats://10.0.0.2:4222?prefix=app",
    );
    assert.equal(resolveServerOptions(dir.path, {}, { dev: true }, {}).queues, undefined);
  });

  it("refuses what is not a NATS URL, and says what it wants", () => {
    using dir = tempDataDir("stead-queues-flag-");
    for (const url of [
      "postgres://127.0.0.1/db",
      "nats://host:4222?prefix=a.b",
      "127.0.0.1:4222",
    ]) {
      assert.throws(
        () => resolveServerOptions(dir.path, { queues: url }, { dev: false }, {}),
        (error: unknown) =>
          error instanceof UsageError &&
          error.message.startsWith(
            "--queues / STEAD_QUEUES_URL must be a NATS URL, like nats://127.0.0.1:4222",
          ),
      );
    }
  });
});
