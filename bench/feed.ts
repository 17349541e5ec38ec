// `node bench/feed.ts [--seconds n] [--connections n] [--threads n] [--rounds n] [--postgres url] [--pin]`:
// the change feed's cost. w2 (KV increment over 1,000 objects) on `stead start`, with the feed
// off and then on (class Counter into PostgreSQL), alternating for --rounds; prints throughput of
// each and the feed's lag, commit to row visible in PostgreSQL, measured from outside: during the
// load a probe increments an object of its own and polls the projection until the new value is
// there. Also the server's own commit-to-applied histogram (stead_feed_commit_to_applied_seconds),
// and CPU per request (each one commit) of the server and of PostgreSQL's feed connections
// (application_name stead-feed, this machine's PostgreSQL): steadier than req/s on a busy machine.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { feedBackendCpu, feedBackendCpuSince } from "./lib/feed-backends.ts";
import { runAutocannon } from "./lib/http-load.ts";
import { cpuSeconds, installCleanupHandlers, machineCpuSeconds } from "./lib/processes.ts";
import { monotonicUs, type TimeWindow } from "./lib/profile-summary.ts";
import { type RunningServer, startServer } from "./lib/servers.ts";
import { loadBenchApp } from "./lib/workerd-config.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "32" },
    threads: { type: "string", default: "0" },
    rounds: { type: "string", default: "2" },
    postgres: { type: "string", default: "postgres://postgres@127.0.0.1:5432/test" },
    /** Write the server's V8 CPU profiles under this directory (`off-<round>/`, `on-<round>/`). */
    "cpu-prof": { type: "string" },
    /** Ship to this sink instead (e.g. an unreachable one, to measure capture alone). */
    sink: { type: "string" },
    /**
     * Pin as `bench/run.ts` does: the server to CPU 0, this process and its children (the load
     * generator) to CPU 1, and PostgreSQL's feed connections to CPU 1 as well (the rest of
     * PostgreSQL is not pinned). Default: nothing pinned, all share the cores.
     */
    pin: { type: "boolean", default: false },
  },
});
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const THREADS = Number(values.threads);
const ROUNDS = Number(values.rounds);
const TOKEN = randomBytes(24).toString("base64url");
const app = loadBenchApp(join(import.meta.dirname, "app"));
installCleanupHandlers();
if (values.pin)
  execFileSync("taskset", ["-a", "-p", "-c", "1", String(process.pid)], { stdio: "ignore" });

interface Round {
  feed: boolean;
  perSecond: number;
  p99Ms: number | undefined;
  lagMs: number[];
  histogram?: { p50: number; p99: number; count: number };
  /** CPU µs per request of the server, and of PostgreSQL's feed connections. */
  serverCpuUs: number;
  /** Share of the machine's CPU time the hypervisor took during the run (steal). */
  steal: number;
  postgresCpuUs: number;
}

async function round(feed: boolean, index: number): Promise<Round> {
  const schema = `bench_feed_${randomBytes(4).toString("hex")}`;
  const sink = new URL(values.postgres!);
  sink.searchParams.set("schema", schema);
  const profileDir =
    values["cpu-prof"] === undefined
      ? undefined
      : join(values["cpu-prof"], `${feed ? "on" : "off"}-${index + 1}`);
  let window: TimeWindow | undefined;
  const server = await startServer("stead", {
    app,
    confinement: { cpus: values.pin ? "0" : undefined },
    adminToken: TOKEN,
    threads: THREADS,
    readyTimeoutMs: 30_000,
    ...(profileDir === undefined ? {} : { cpuProfileDir: profileDir }),
    ...(feed ? { feed: { classes: ["Counter"], sinks: [values.sink ?? sink.href] } } : {}),
  });
  const db = new pg.Pool({ connectionString: values.postgres!, max: 2 });
  try {
    const load = {
      url: server.url,
      connections: CONNECTIONS,
      path: () => `/w2/${Math.floor(Math.random() * 1000)}`,
      luaPath: "",
      capMs: (SECONDS + 30) * 1000,
    };
    let next = 0;
    await runAutocannon({ ...load, path: () => `/w2/${next++ % 1000}`, amount: 1000 });
    await runAutocannon({ ...load, seconds: 2 });
    let stop = false;
    const probing =
      feed && values.sink === undefined
        ? probe(server, db, schema, () => stop)
        : Promise.resolve([]);
    const serverCpu = cpuSeconds(server.pid) ?? Number.NaN;
    const machine = machineCpuSeconds();
    const feedBackends = feed ? await feedBackendCpu(db) : new Map<number, number>();
    if (values.pin) {
      // PostgreSQL's feed connections stay off the server's core, as a database on its own
      // machine would: what is measured is the server's share of the feed.
      for (const pid of feedBackends.keys()) {
        execFileSync("taskset", ["-a", "-p", "-c", "1", String(pid)], { stdio: "ignore" });
      }
    }
    window = { startUs: monotonicUs(), endUs: 0 };
    const result = await runAutocannon({ ...load, seconds: SECONDS });
    window.endUs = monotonicUs();
    const steal =
      (machineCpuSeconds().steal - machine.steal) /
      (((window.endUs - window.startUs) / 1e6) * availableParallelism());
    const serverCpuUs = (((cpuSeconds(server.pid) ?? Number.NaN) - serverCpu) * 1e6) / result.ok;
    const postgresCpu = await feedBackendCpuSince(db, feedBackends);
    stop = true;
    const lagMs = await probing;
    return {
      feed,
      perSecond: result.perSecond,
      p99Ms: result.p99Ms,
      lagMs,
      serverCpuUs,
      steal,
      postgresCpuUs: (postgresCpu * 1e6) / result.ok,
      ...(feed ? { histogram: await histogram(server) } : {}),
    };
  } finally {
    await server.stop();
    if (profileDir !== undefined && window !== undefined) {
      // bench/profile.ts reads this to summarize the measured window only.
      writeFileSync(join(profileDir, "window.json"), `${JSON.stringify(window)}\n`);
    }
    if (feed) await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await db.end();
  }
}

/** Commit-to-visible lag samples: increment the probe object, poll until PostgreSQL shows it. */
async function probe(
  server: RunningServer,
  db: pg.Pool,
  schema: string,
  stopped: () => boolean,
): Promise<number[]> {
  const samples: number[] = [];
  while (!stopped()) {
    const response = await fetch(`${server.url}/w2/probe`);
    const answered = performance.now();
    const value = Number(await response.text());
    for (;;) {
      const { rows } = await db
        .query(
          `SELECT kv.value FROM "${schema}".feed_cursors c JOIN "${schema}"."Counter__kv" kv ON kv.object_id = c.object_id WHERE c.object_name = 'spread-probe' AND kv.key = 'value'`,
        )
        .catch(() => ({ rows: [] as Array<{ value: number }> }));
      if (rows.length > 0 && Number(rows[0]!.value) >= value) break;
      if (performance.now() - answered > 30_000) throw new Error("the probe never showed up");
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    samples.push(performance.now() - answered);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return samples;
}

/** p50 and p99 from the server's commit-to-applied histogram (bucket upper bounds). */
async function histogram(
  server: RunningServer,
): Promise<{ p50: number; p99: number; count: number }> {
  const text = await (
    await fetch(`${server.adminUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
  ).text();
  const buckets = [
    ...text.matchAll(
      /stead_feed_commit_to_applied_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} (\S+)/g,
    ),
  ].map((m) => ({
    le: m[1] === "+Inf" ? Number.POSITIVE_INFINITY : Number(m[1]),
    n: Number(m[2]),
  }));
  const count = buckets.at(-1)?.n ?? 0;
  const at = (q: number) => buckets.find((b) => b.n >= q * count)?.le ?? Number.NaN;
  return { p50: at(0.5) * 1000, p99: at(0.99) * 1000, count };
}

function percentile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

const rounds: Round[] = [];
for (let i = 0; i < ROUNDS; i++) {
  for (const feed of [false, true]) {
    const r = await round(feed, i);
    rounds.push(r);
    console.log(
      `round ${i + 1} feed ${feed ? "on " : "off"}: ${r.perSecond.toFixed(0)} req/s, p99 ${r.p99Ms?.toFixed(1)} ms, server CPU ${r.serverCpuUs.toFixed(0)} µs/commit, steal ${(r.steal * 100).toFixed(0)}%` +
        (feed ? ` + PostgreSQL feed CPU ${r.postgresCpuUs.toFixed(0)} µs/commit` : "") +
        (feed
          ? `; lag p50 ${percentile(r.lagMs, 0.5).toFixed(1)} ms, p99 ${percentile(r.lagMs, 0.99).toFixed(1)} ms, max ${Math.max(...r.lagMs).toFixed(1)} ms (${r.lagMs.length} probes); server histogram p50 <= ${r.histogram!.p50} ms, p99 <= ${r.histogram!.p99} ms over ${r.histogram!.count} commits`
          : ""),
    );
  }
}
/** Medians over the rounds: one slow round on a shared machine moves a mean too much. */
const median = (feed: boolean, of: (r: Round) => number) => {
  const sorted = rounds
    .filter((r) => r.feed === feed)
    .map(of)
    .sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const mean = (feed: boolean) => median(feed, (r) => r.perSecond);
const lag = rounds.filter((r) => r.feed).flatMap((r) => r.lagMs);
console.log(
  `\nw2, ${CONNECTIONS} connections, ${SECONDS} s x ${ROUNDS}, --threads ${THREADS}${values.pin ? ", server pinned to CPU 0, load and PostgreSQL's feed connections to CPU 1" : ", nothing pinned"}: feed off ${mean(false).toFixed(0)} req/s, feed on ${mean(true).toFixed(0)} req/s (${((mean(true) / mean(false) - 1) * 100).toFixed(1)}%), medians; server CPU ${median(false, (r) => r.serverCpuUs).toFixed(0)} vs ${median(true, (r) => r.serverCpuUs).toFixed(0)} µs/commit, PostgreSQL feed CPU ${median(true, (r) => r.postgresCpuUs).toFixed(0)} µs/commit; feed lag commit->visible in PostgreSQL p50 ${percentile(lag, 0.5).toFixed(1)} ms, p99 ${percentile(lag, 0.99).toFixed(1)} ms (${lag.length} probes)`,
);
process.exit(0);
