import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { writeFiles } from "../support/app-files.ts";
import { natsQueues } from "../support/nats.ts";
import { deliveriesWhen, queuesConfig } from "../support/queues-app.ts";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

for (const [name, nats] of [
  ["the data directory", false],
  ["NATS JetStream (--queues)", true],
] as const) {
  describe(`Queues through stead start, in ${name}`, { timeout: 90_000 }, () => {
    it("sends from the Worker and from an object on an object thread, retries, dead-letters and delays", async () => {
      using store = testStore();
      using app = tempDataDir("stead-queues-app-");
      await using queues = natsQueues();
      writeFiles(app.path, { "wrangler.jsonc": queuesConfig() });
      await using stead = await startStead(
        "start",
        [
          app.path,
          "--host",
          "127.0.0.1",
          "--threads",
          "1",
          ...(nats ? ["--queues", queues.queuesUrl] : []),
        ],
        { store },
      );
      const send = (body: unknown, delay?: number) =>
        fetch(`${stead.url}/send${delay === undefined ? "" : `?delay=${delay}`}`, {
          method: "POST",
          body: JSON.stringify(body),
        });
      assert.equal(await (await send({ n: 1 })).text(), "sent");
      const written = await fetch(`${stead.url}/write`, { method: "POST", body: "from-object" });
      assert.equal(await written.text(), "sent");
      assert.equal(await (await send({ do: "fail" })).text(), "sent");
      const sentAt = Date.now();
      assert.equal(await (await send({ n: "later" }, 1)).text(), "sent");

      const all = await deliveriesWhen(
        stead.url,
        "every message delivered, the failing one dead-lettered",
        (d) =>
          d.some((x) => x.queue === "jobs-dlq") &&
          d.some((x) => JSON.stringify(x.body) === '{"n":"later"}') &&
          d.some((x) => JSON.stringify(x.body) === '{"value":"from-object"}'),
      );
      const bodies = (queue: string) =>
        all.filter((d) => d.queue === queue).map((d) => `${JSON.stringify(d.body)}#${d.attempts}`);
      assert.ok(bodies("jobs").includes('{"n":1}#1'));
      assert.ok(bodies("jobs").includes('{"value":"from-object"}#1'));
      assert.deepEqual(
        bodies("jobs").filter((b) => b.startsWith('{"do":"fail"}')),
        ['{"do":"fail"}#1', '{"do":"fail"}#2'],
      );
      assert.deepEqual(bodies("jobs-dlq"), ['{"do":"fail"}#1']);
      const later = all.find((d) => JSON.stringify(d.body) === '{"n":"later"}')!;
      assert.ok(
        later.at - sentAt >= 1000,
        `the delayed message came ${later.at - sentAt} ms after`,
      );
      const stopped = await stead.stop("SIGTERM");
      assert.equal(stopped.code, 0, stead.stderr());
    });
  });
}
