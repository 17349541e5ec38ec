// A message `send` acknowledged survives SIGKILL of the server, and is delivered once it is back
// (the messages the killed process had leased to a batch it was still gathering included).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { writeFiles } from "../support/app-files.ts";
import { deliveriesWhen, queuesConfig } from "../support/queues-app.ts";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { waitFor } from "../support/wait-for.ts";

describe("queues survive SIGKILL", () => {
  it("every message send acknowledged is delivered after a restart", {
    timeout: 60_000,
  }, async () => {
    using store = testStore();
    using app = tempDataDir("stead-queue-crash-");
    // The first process gathers one batch for a minute: what it leased is never handled.
    writeFiles(app.path, {
      "wrangler.jsonc": queuesConfig({ max_batch_size: 100, max_batch_timeout: 60 }),
    });
    const first = await startStead("start", [app.path, "--host", "127.0.0.1", "--threads", "0"], {
      store,
    });
    const acknowledged = new Set<number>();
    const sends = Array.from({ length: 60 }, (_, n) =>
      fetch(`${first.url}/send`, { method: "POST", body: JSON.stringify({ n }) }).then(
        async (response) => {
          if ((await response.text()) === "sent") acknowledged.add(n);
        },
        () => {},
      ),
    );
    await waitFor(() => acknowledged.size >= 20, "20 acknowledged sends");
    const killed = await first.stop("SIGKILL");
    assert.equal(killed.signal, "SIGKILL");
    await Promise.all(sends);
    const kept = [...acknowledged];

    writeFiles(app.path, { "wrangler.jsonc": queuesConfig({ max_batch_size: 100 }) });
    await using second = await startStead(
      "start",
      [app.path, "--host", "127.0.0.1", "--threads", "0"],
      { store },
    );
    const all = await deliveriesWhen(second.url, `the ${kept.length} acknowledged messages`, (d) =>
      kept.every((n) => d.some((x) => (x.body as { n: number }).n === n)),
    );
    const delivered = new Set(all.map((d) => (d.body as { n: number }).n));
    for (const n of kept) assert.ok(delivered.has(n), `acknowledged message ${n} was lost`);
  });
});
