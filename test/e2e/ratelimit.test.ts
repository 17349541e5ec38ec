// Rate Limiting bindings through `stead start`, in both forms a wrangler config may give them:
// the app answers 200 until a key is past its limit, then 429, and startup warns of nothing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { writeFiles } from "../support/app-files.ts";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const WORKER = new URL("../fixtures/ratelimit-worker.ts", import.meta.url).pathname;
const LIMIT = 3;
const PERIOD_MS = 60_000;

const FORMS = {
  ratelimits: `"ratelimits": [
    { "name": "LIMITER", "namespace_id": "1001", "simple": { "limit": ${LIMIT}, "period": 60 } }
  ]`,
  "unsafe.bindings": `"unsafe": { "bindings": [
    { "name": "LIMITER", "type": "ratelimit", "namespace_id": "1001", "simple": { "limit": ${LIMIT}, "period": 60 } }
  ] }`,
};

/**
 * The statuses of LIMIT + 2 requests for one key, and the last one's body, made within one
 * window: the windows are the wall clock's minutes, so a run that straddles a minute's end is
 * made again with a new key.
 */
async function burst(url: string): Promise<{ statuses: number[]; last: string }> {
  for (let attempt = 0; ; attempt++) {
    const started = Date.now();
    const statuses: number[] = [];
    let last = "";
    for (let i = 0; i < LIMIT + 2; i++) {
      const response = await fetch(`${url}/LIMITER/user-${attempt}`);
      last = await response.text();
      statuses.push(response.status);
    }
    if (Math.floor(started / PERIOD_MS) === Math.floor(Date.now() / PERIOD_MS)) {
      return { statuses, last };
    }
  }
}

describe("Rate Limiting bindings through stead start", { timeout: 60_000 }, () => {
  for (const [form, key] of Object.entries(FORMS)) {
    it(`answers 200 then 429 for a key past its limit, bound with ${form}`, async () => {
      using store = testStore();
      using dir = tempDataDir("stead-ratelimit-app-");
      writeFiles(dir.path, {
        "wrangler.jsonc": `{ "name": "limited", "main": "${WORKER}", "compatibility_date": "2026-01-01",
          "durable_objects": { "bindings": [{ "name": "GATES", "class_name": "Gate" }] },
          "migrations": [{ "tag": "v1", "new_sqlite_classes": ["Gate"] }],
          ${key} }`,
      });
      await using stead = await startStead(
        "start",
        [dir.path, "--host", "127.0.0.1", "--threads", "1"],
        {
          store,
        },
      );
      const { statuses, last } = await burst(stead.url);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      assert.match(last, /^429 Failure – rate limit exceeded for user-\d+$/);
      assert.doesNotMatch(
        stead.stderr(),
        /not a wrangler config key|is not supported by Stead|partly supported|will be undefined/,
      );
      const stopped = await stead.stop("SIGTERM");
      assert.equal(stopped.code, 0, stead.stderr());
    });
  }
});
