import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { shardOf } from "../../src/threads/shard-protocol.ts";
import { type SteadProcess, startStead } from "../support/stead-process.ts";
import { TEST_STORAGE, testStore } from "../support/storage.ts";
import { eventually } from "../support/wait-for.ts";

const APP = fileURLToPath(new URL("../fixtures/metrics-app", import.meta.url));
const TOKEN = randomBytes(24).toString("base64url");
const READ_TOKEN = randomBytes(24).toString("base64url");

/** `/metrics` parsed: each series (`name{labels}`, as printed) and its value. */
type Scrape = Map<string, number> & {
  /** Each family of Stead's own (`stead_*`) and its type. */
  types: Map<string, string>;
};

async function scrape(adminUrl: string): Promise<Scrape> {
  const response = await fetch(`${adminUrl}/metrics`, {
    headers: { authorization: `Bearer ${READ_TOKEN}` },
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const series = Object.assign(new Map<string, number>(), { types: new Map<string, string>() });
  for (const line of (await response.text()).split("\n")) {
    const type = /^# TYPE (stead_\w+) (\w+)$/.exec(line);
    if (type !== null) series.types.set(type[1]!, type[2]!);
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    series.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return series;
}

const DOCS = readFileSync(new URL("../../docs/operations.md", import.meta.url), "utf8");
const DASHBOARD = readFileSync(
  new URL("../../docs/grafana-dashboard.json", import.meta.url),
  "utf8",
);

/** docs/operations.md's table of metrics: each name and its type. */
/** The local driver's node journal keeps the `stead_journal_*` metrics; PostgreSQL storage has none. */
const JOURNAL = TEST_STORAGE.capabilities.localFiles;

function documentedMetrics(): Map<string, string> {
  const table = new Map<string, string>();
  for (const match of DOCS.matchAll(/^\| `(stead_\w+)` \| (\w+) \|/gm)) {
    if (!JOURNAL && match[1]!.startsWith("stead_journal_")) continue;
    table.set(match[1]!, match[2]!);
  }
  return table;
}

function adminUrlOf(stead: SteadProcess): string {
  const record = stead.logs.find((log) => typeof log.adminUrl === "string");
  assert.ok(record, "the server logged its admin URL");
  return record.adminUrl as string;
}

/** Increments new counters until `threads` threads hold some; resolves to how many were made. */
async function countersOnEveryThread(url: string, threads: number): Promise<number> {
  const used = new Set<number>();
  let made = 0;
  while (used.size < Math.max(1, threads) || made < 3) {
    const response = await fetch(`${url}/count/counter-${made++}`);
    const { id } = (await response.json()) as { id: string };
    if (threads > 0) used.add(shardOf(id, threads));
    else used.add(0);
  }
  return made;
}

for (const threads of [0, 2]) {
  describe(`/metrics of stead start --threads ${threads}`, () => {
    it("counts requests by status, objects, commits, alarms and WebSockets, summed over threads", async () => {
      using store = testStore();
      await using stead = await startStead(
        "start",
        [APP, "--threads", String(threads), "--admin-port", "0"],
        { store, env: { STEAD_ADMIN_TOKEN: TOKEN, STEAD_ADMIN_READ_TOKEN: READ_TOKEN } },
      );
      const admin = adminUrlOf(stead);
      assert.equal((await fetch(`${admin}/metrics`)).status, 401);

      const counters = await countersOnEveryThread(stead.url, threads);
      assert.equal((await fetch(`${stead.url}/nowhere`)).status, 404);
      assert.equal(await (await fetch(`${stead.url}/alarm/alarmed`)).text(), "set");
      assert.equal(await (await fetch(`${stead.url}/failing-alarm/failing`)).text(), "set");
      await eventually("the alarm ran", async () =>
        (await (await fetch(`${stead.url}/alarms-run/alarmed`)).json()) === 1 ? true : undefined,
      );

      const socket = new WebSocket(`${stead.url.replace("http", "ws")}/ws/room`);
      const echoed = new Promise<unknown>((resolve, reject) => {
        socket.onmessage = (event) => resolve(event.data);
        socket.onerror = () => reject(new Error("the WebSocket failed"));
      });
      socket.onopen = () => socket.send("hello");
      assert.equal(await echoed, "hello");

      // Requests: countersOnEveryThread's, the 404, the alarms set and read (at least once).
      const before = await eventually("the failing alarm to be retried", async () => {
        const metrics = await scrape(admin);
        return metrics.get("stead_alarms_retrying") === 1 ? metrics : undefined;
      });
      const ok = before.get('stead_http_requests_total{status="200"}') ?? 0;
      assert.ok(ok >= counters + 3, `200s counted: ${ok}`);
      assert.equal(before.get('stead_http_requests_total{status="404"}'), 1);
      assert.ok((before.get("stead_http_request_duration_seconds_count") ?? 0) >= ok + 1);
      assert.equal(before.get("stead_http_websocket_upgrades_total"), 1);
      assert.equal(before.get("stead_http_websockets_open"), 1);

      // Objects: the counters, the two alarmed ones and the room, wherever they run.
      const objects = counters + 3;
      assert.equal(before.get('stead_objects_active{class="Counter"}'), objects);
      assert.equal(before.get('stead_object_activations_total{class="Counter"}'), objects);
      assert.equal(before.get('stead_object_evictions_total{class="Counter"}'), 0);
      assert.equal(before.get('stead_object_overloaded_total{class="Counter"}'), 0);
      assert.equal(before.get('stead_object_events_queued{class="Counter"}'), 0);
      assert.equal(
        before.get('stead_object_websockets_open{class="Counter",api="hibernatable"}'),
        1,
      );
      const commits = before.get('stead_storage_commit_duration_seconds_count{class="Counter"}');
      // One commit per increment at least, and the alarms' writes.
      assert.ok((commits ?? 0) >= counters + 2, `commits counted: ${commits}`);
      assert.equal(
        before.get('stead_storage_commit_duration_seconds_bucket{class="Counter",le="+Inf"}'),
        commits,
      );

      // Alarms: one ran, one failed and waits for its retry (2 s), none dead yet.
      assert.equal(before.get('stead_alarm_runs_total{class="Counter",outcome="succeeded"}'), 1);
      assert.ok(
        (before.get('stead_alarm_runs_total{class="Counter",outcome="retried"}') ?? 0) >= 1,
      );
      assert.equal(before.get("stead_alarms_dead_letters"), 0);
      assert.equal(typeof before.get("stead_alarms_due"), "number");
      assert.equal(before.get("stead_alarms_running"), 0);
      if (JOURNAL) {
        // The node journal acknowledged the commits; a clean start replayed nothing.
        const syncs = before.get("stead_journal_syncs_total") ?? 0;
        assert.ok(syncs >= 1, `journal syncs: ${syncs}`);
        assert.ok((before.get("stead_journal_records_total") ?? 0) >= syncs);
        assert.equal(before.get("stead_journal_replay_seconds"), 0);
      }
      assert.ok((before.get("process_resident_memory_bytes") ?? 0) > 0);

      // Every metric is documented with its type, and the dashboard uses no other.
      assert.deepEqual(
        new Map([...before.types].sort()),
        new Map([...documentedMetrics()].sort()),
        "docs/operations.md lists every metric /metrics shows, with its type",
      );
      for (const [, name] of DASHBOARD.matchAll(/\b(stead_\w+?)(?:_bucket|_count|_sum)?\b/g)) {
        assert.ok(
          before.types.has(name!),
          `docs/grafana-dashboard.json uses ${name}, which exists`,
        );
      }

      // Counters only grow; the socket closing shows at once.
      socket.close();
      await fetch(`${stead.url}/count/counter-0`);
      const after = await eventually("the WebSocket to close", async () => {
        const metrics = await scrape(admin);
        return metrics.get("stead_http_websockets_open") === 0 ? metrics : undefined;
      });
      assert.ok((after.get('stead_http_requests_total{status="200"}') ?? 0) > ok);
      assert.ok(
        (after.get('stead_storage_commit_duration_seconds_count{class="Counter"}') ?? 0) >
          (commits ?? 0),
      );
    });
  });
}
