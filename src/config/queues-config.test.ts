// The wrangler config's `queues` key, in JSONC and TOML: what createRuntime() is given, and the
// errors that name the option path.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { writeFiles } from "../../test/support/app-files.ts";
import { tempDataDir } from "../../test/support/temp-dir.ts";
import { loadAppConfig } from "./index.ts";

const JSONC = `{
  "main": "src/index.ts",
  // producers and consumers, as Cloudflare's docs write them
  "queues": {
    "producers": [{ "queue": "jobs", "binding": "JOBS", "delivery_delay": 5 }],
    "consumers": [{ "queue": "jobs", "max_batch_size": 20, "max_batch_timeout": 2,
      "max_retries": 4, "dead_letter_queue": "jobs-dlq", "retry_delay": 10,
      "max_concurrency": 3, "max_wait_time_ms": 1 }]
  }
}`;

const TOML = `main = "src/index.ts"

[[queues.producers]]
queue = "jobs"
binding = "JOBS"
delivery_delay = 5

[[queues.consumers]]
queue = "jobs"
max_batch_size = 20
max_batch_timeout = 2
max_retries = 4
dead_letter_queue = "jobs-dlq"
retry_delay = 10
max_concurrency = 3
`;

function app(files: Record<string, string>) {
  const dir = tempDataDir("stead-queues-config-");
  writeFiles(dir.path, { "src/index.ts": "export default {};\n", ...files });
  return dir;
}

describe("the queues key", () => {
  for (const [file, text] of [
    ["wrangler.jsonc", JSONC],
    ["wrangler.toml", TOML],
  ] as const) {
    it(`reads producers and consumers from ${file}`, async () => {
      using dir = app({ [file]: text });
      const config = await loadAppConfig(dir.path);
      assert.deepEqual(config.runtimeOptions.queues, {
        producers: [{ queue: "jobs", binding: "JOBS", delivery_delay: 5 }],
        consumers: [
          {
            queue: "jobs",
            max_batch_size: 20,
            max_batch_timeout: 2,
            max_retries: 4,
            dead_letter_queue: "jobs-dlq",
            retry_delay: 10,
            max_concurrency: 3,
          },
        ],
      });
      assert.deepEqual(config.warnings, []);
    });
  }

  it("names the option path of what is wrong", async () => {
    using dir = app({
      "wrangler.jsonc": JSON.stringify({
        main: "src/index.ts",
        queues: {
          producers: [{ queue: "Jobs!", binding: "JOBS" }],
          consumers: [
            { queue: "a", max_batch_size: 101, max_batch_timeout: 61 },
            { queue: "a", dead_letter_queue: "b", retry_delay: 43_201, type: "http_pull" },
            { queue: "c", dead_letter_queue: "c" },
          ],
        },
      }),
    });
    await assert.rejects(loadAppConfig(dir.path), (error: any) => {
      assert.equal(error.code, "INVALID_CONFIG");
      const where = join(dir.path, "wrangler.jsonc");
      for (const part of [
        where,
        "queues.producers[0].queue: must be a queue name",
        "queues.consumers[0].max_batch_size: must be a whole number from 1 to 100",
        "queues.consumers[0].max_batch_timeout: must be a number of seconds from 0 to 60",
        "queues.consumers[1].retry_delay: must be at most 43200 seconds (12 hours)",
        'queues.consumers[1].type: must be "worker"',
      ]) {
        assert.ok(error.message.includes(part), `expected "${part}" in:\n${error.message}`);
      }
      return true;
    });
  });

  it("refuses two consumers of one queue, and a queue that is its own dead-letter queue", async () => {
    using dir = app({
      "wrangler.jsonc": JSON.stringify({
        main: "src/index.ts",
        queues: {
          consumers: [{ queue: "a" }, { queue: "a" }, { queue: "c", dead_letter_queue: "c" }],
        },
      }),
    });
    await assert.rejects(loadAppConfig(dir.path), (error: any) => {
      assert.match(
        error.message,
        /queues\.consumers\[1\]\.queue: queue "a" already has a consumer \(consumers\[0\]\)/,
      );
      assert.match(
        error.message,
        /queues\.consumers\[2\]\.dead_letter_queue: must name another queue/,
      );
      return true;
    });
  });

  it("a producer's binding name may be used once among all bindings", async () => {
    using dir = app({
      "wrangler.jsonc": JSON.stringify({
        main: "src/index.ts",
        kv_namespaces: [{ binding: "JOBS" }],
        queues: { producers: [{ queue: "jobs", binding: "JOBS" }] },
      }),
    });
    await assert.rejects(
      loadAppConfig(dir.path),
      /queues\.producers: the binding name JOBS is also used by kv_namespaces/,
    );
  });
});
