// Faults between Stead and PostgreSQL, through a TCP proxy the test controls: connections cut
// mid-load, a stalled network, and replies dropped after the commit reached the server. Outputs
// wait, then fail cleanly; the objects reset and recover by themselves; no acknowledged write is
// lost, and none is counted twice.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PostgresDriver } from "../../src/drivers/postgres/postgres-driver.ts";
import { createRuntime, type Runtime } from "../../src/index.ts";
import { POSTGRES_TEST_URL, tempSchema } from "../support/storage.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { eventually } from "../support/wait-for.ts";

const BASE = new URL(POSTGRES_TEST_URL);
const MAIN = new URL("../fixtures/counter-worker.ts", import.meta.url);
const TIMEOUT_MS = 500;
/** A reset object recovers by itself on a later call; retried until then. */
const RECOVERY = { timeoutMs: 10_000, intervalMs: 50 };

/** The storage URL through `proxy`, in schema `schema`. */
function proxiedUrl(proxy: TcpProxy, schema: string): string {
  const url = new URL(BASE);
  url.hostname = "127.0.0.1";
  url.port = String(proxy.port);
  url.searchParams.set("schema", schema);
  return url.href;
}

/** A runtime on the counter fixture whose PostgreSQL goes through `proxy`. */
async function counterRuntime(proxy: TcpProxy, schema: string, dataDir: string): Promise<Runtime> {
  const driver = await PostgresDriver.connect({
    url: proxiedUrl(proxy, schema),
    dataDir,
    statementTimeoutMs: TIMEOUT_MS,
    connectTimeoutMs: 5_000,
  });
  return createRuntime({ main: MAIN, durableObjects: { COUNTER: "Counter" }, driver });
}

function assertCleanFailure(reason: unknown): void {
  const error = reason as { code?: string; retryable?: boolean; message?: string };
  assert.ok(
    ["STORAGE_FLUSH_FAILED", "STORAGE_UNAVAILABLE", "OBJECT_RESET"].includes(error.code ?? ""),
    `a clean storage failure, got ${error.code}: ${error.message}`,
  );
  assert.equal(error.retryable, true);
}

describe("PostgreSQL faults through a proxy", () => {
  it("survives connections cut mid-load: failures are clean, acknowledged writes all stay", async () => {
    await using proxy = await TcpProxy.start({
      host: BASE.hostname,
      port: Number(BASE.port || 5432),
    });
    using dir = tempDataDir("stead-faults-");
    await using schema = tempSchema("f");
    {
      await using rt = await counterRuntime(proxy, schema.name, dir.path);
      const names = Array.from({ length: 8 }, (_, i) => `c${i}`);
      const acknowledged = new Map<string, number[]>(names.map((name) => [name, []]));
      let failures = 0;
      for (let wave = 0; wave < 6; wave++) {
        const calls = names.flatMap((name) =>
          Array.from({ length: 5 }, () =>
            rt.env.COUNTER.getByName(name)
              .increment()
              .then(
                (value: number) => acknowledged.get(name)!.push(value),
                (reason: unknown) => {
                  assertCleanFailure(reason);
                  failures++;
                },
              ),
          ),
        );
        if (wave % 2 === 1) setImmediate(() => proxy.cut());
        await Promise.all(calls);
      }
      assert.ok(failures > 0, "the cuts failed some writes");
      for (const name of names) {
        const values = acknowledged.get(name)!;
        assert.equal(new Set(values).size, values.length, `${name}: no value acknowledged twice`);
        const now = await eventually(
          `${name} to answer again`,
          () => rt.env.COUNTER.getByName(name).count(),
          RECOVERY,
        );
        assert.ok(now >= Math.max(0, ...values), `${name}: every acknowledged increment stayed`);
        assert.ok(now <= 30, `${name}: nothing counted twice`);
      }
    }
  });

  it("fails writes that get no answer, then recovers once PostgreSQL answers again", async () => {
    await using proxy = await TcpProxy.start({
      host: BASE.hostname,
      port: Number(BASE.port || 5432),
    });
    using dir = tempDataDir("stead-faults-");
    await using schema = tempSchema("f");
    {
      await using rt = await counterRuntime(proxy, schema.name, dir.path);
      // A stub broken by a failure stays broken (as on Cloudflare): later calls take a new one.
      const counter = () => rt.env.COUNTER.getByName("stalled");
      assert.equal(await counter().increment(), 1);
      proxy.mode = "stall";
      const started = Date.now();
      const stalled = await counter()
        .increment()
        .then(
          () => assert.fail("a write with no answer was acknowledged"),
          (reason: unknown) => reason,
        );
      assertCleanFailure(stalled);
      assert.ok(Date.now() - started >= TIMEOUT_MS - 50, "it waited for the answer first");
      proxy.pass();
      const next = await eventually(
        "a write to go through again",
        () => counter().increment(),
        RECOVERY,
      );
      // The stalled write reached PostgreSQL once released, or never did: either is allowed.
      assert.ok(next === 2 || next === 3, `counting on from 1, got ${next}`);
    }
  });

  it("keeps a write whose commit reached PostgreSQL but whose reply was lost, counted once", async () => {
    await using proxy = await TcpProxy.start({
      host: BASE.hostname,
      port: Number(BASE.port || 5432),
    });
    using dir = tempDataDir("stead-faults-");
    await using schema = tempSchema("f");
    {
      await using rt = await counterRuntime(proxy, schema.name, dir.path);
      const counter = () => rt.env.COUNTER.getByName("unanswered");
      assert.equal(await counter().increment(), 1);
      assert.equal(await counter().increment(), 2);
      proxy.mode = "drop-replies";
      const lost = await counter()
        .increment()
        .then(
          () => assert.fail("a write with no reply was acknowledged"),
          (reason: unknown) => reason,
        );
      assertCleanFailure(lost);
      // The connection's protocol state is lost with the reply: a real network would reset it.
      proxy.mode = "pass";
      proxy.cut();
      assert.equal(
        await eventually("a read to go through again", () => counter().count(), RECOVERY),
        3,
        "the committed write, once",
      );
      assert.equal(await counter().increment(), 4);
    }
  });
});
