// `node --conditions=stead-source --import ./src/register.ts bench/feed-cpu.ts [--commits n]
// [--rounds n] [--threads n] [--postgres url] [--only off|on] [--cpu-prof dir]`: the change
// feed's CPU per commit, in-process (no HTTP, no load generator competing for the cores): the
// bench app's Counter incremented over 1,000 objects, 32 calls in flight, with the feed off and
// then on into PostgreSQL, alternating for --rounds. Prints per run the process's CPU per commit
// (process.cpuUsage: every thread), PostgreSQL's feed connections' CPU per commit (/proc of the
// backends named stead-feed, same machine), and the whole machine's (/proc/stat: with the
// kernel's writeback and journal threads, and all of PostgreSQL).
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { createRuntime } from "stead";
import { runtimeAdmin } from "../src/embedded/runtime-admin.ts";
import { feedBackendCpu, feedBackendCpuSince } from "./lib/feed-backends.ts";
import { machineCpuSeconds } from "./lib/processes.ts";

const { values } = parseArgs({
  options: {
    commits: { type: "string", default: "20000" },
    rounds: { type: "string", default: "3" },
    /** Object threads (`createRuntime({ threads })`); 0: objects on this thread. */
    threads: { type: "string", default: "0" },
    postgres: { type: "string", default: "postgres://postgres@127.0.0.1:5432/test" },
    /** `off` or `on`: run only that side (the commit path alone, or the feed alone). */
    only: { type: "string" },
    /**
     * Write a V8 CPU profile of this thread's measured window (not the objects' creation) per
     * run under this directory (`bench/profile.ts` summarizes it).
     */
    "cpu-prof": { type: "string" },
  },
});
if (values.only !== undefined && values.only !== "off" && values.only !== "on") {
  console.error(`--only takes off or on, not ${values.only}`);
  process.exit(2);
}
const SIDES = values.only === undefined ? [false, true] : [values.only === "on"];
const COMMITS = Number(values.commits);
const OBJECTS = 1_000;
const IN_FLIGHT = 32;

interface Run {
  feed: boolean;
  perSecond: number;
  cpuUs: number;
  postgresCpuUs: number;
  /** The whole machine's busy CPU per commit: PostgreSQL's and the kernel's threads too. */
  machineCpuUs: number;
}

async function run(feed: boolean): Promise<Run> {
  const dataDir = mkdtempSync(join(tmpdir(), "stead-feed-cpu-"));
  const schema = `bench_feed_cpu_${randomBytes(4).toString("hex")}`;
  const sink = new URL(values.postgres!);
  sink.searchParams.set("schema", schema);
  const db = new pg.Pool({ connectionString: values.postgres!, max: 1 });
  const rt = await createRuntime({
    main: new URL("./app/src/index.ts", import.meta.url),
    durableObjects: { COUNTER: "Counter" },
    dataDir,
    threads: Number(values.threads),
    ...(feed ? { feed: { classes: ["Counter"], sinks: [sink.href] } } : {}),
  });
  try {
    const counters = rt.env.COUNTER as {
      getByName(name: string): { increment(): Promise<number> };
    };
    const stubs = Array.from({ length: OBJECTS }, (_, i) => counters.getByName(`o${i}`));
    const increments = async (count: number) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < count) await stubs[next++ % OBJECTS]!.increment();
        }),
      );
    };
    await increments(2 * OBJECTS);
    if (feed) await runtimeAdmin(rt).feed!.drained();
    const backends = await feedBackendCpu(db);
    const profiler = values["cpu-prof"] === undefined ? undefined : new Session();
    if (profiler !== undefined) {
      profiler.connect();
      await profiler.post("Profiler.enable");
      await profiler.post("Profiler.start");
    }
    const cpu = process.cpuUsage();
    const machine = machineCpuSeconds().busy;
    const started = performance.now();
    await increments(COMMITS);
    if (feed) await runtimeAdmin(rt).feed!.drained();
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const machineUsed = machineCpuSeconds().busy - machine;
    if (profiler !== undefined) {
      const { profile } = await profiler.post("Profiler.stop");
      profiler.disconnect();
      const dir = values["cpu-prof"]!;
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `feed-${feed ? "on" : "off"}-${++profiles}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      console.log(`CPU profile of the measured window: ${file}`);
    }
    const postgresCpu = await feedBackendCpuSince(db, backends);
    return {
      feed,
      perSecond: COMMITS / seconds,
      cpuUs: (used.user + used.system) / COMMITS,
      postgresCpuUs: (postgresCpu * 1e6) / COMMITS,
      machineCpuUs: (machineUsed * 1e6) / COMMITS,
    };
  } finally {
    await rt.dispose();
    rmSync(dataDir, { recursive: true, force: true });
    if (feed) await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await db.end();
  }
}

let profiles = 0;
const runs: Run[] = [];
for (let i = 0; i < Number(values.rounds); i++) {
  for (const feed of SIDES) {
    const r = await run(feed);
    runs.push(r);
    console.log(
      `round ${i + 1} feed ${feed ? "on " : "off"}: ${r.perSecond.toFixed(0)} commits/s, CPU ${r.cpuUs.toFixed(0)} µs/commit${feed ? ` + PostgreSQL feed CPU ${r.postgresCpuUs.toFixed(0)} µs/commit` : ""}; machine ${r.machineCpuUs.toFixed(0)} µs/commit`,
    );
  }
}
const median = (feed: boolean, of: (r: Run) => number) => {
  const sorted = runs
    .filter((r) => r.feed === feed)
    .map(of)
    .sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const sides = SIDES.map((feed) =>
  feed
    ? `feed on ${median(true, (r) => r.cpuUs).toFixed(0)} µs/commit + PostgreSQL ${median(true, (r) => r.postgresCpuUs).toFixed(0)} µs/commit (machine ${median(true, (r) => r.machineCpuUs).toFixed(0)}), ${median(true, (r) => r.perSecond).toFixed(0)} commits/s`
    : `feed off ${median(false, (r) => r.cpuUs).toFixed(0)} µs/commit (machine ${median(false, (r) => r.machineCpuUs).toFixed(0)}), ${median(false, (r) => r.perSecond).toFixed(0)} commits/s`,
);
console.log(
  `\n${COMMITS} commits over ${OBJECTS} objects, ${IN_FLIGHT} in flight, --threads ${values.threads}, medians of ${values.rounds}: ${sides.join("; ")}`,
);
process.exit(0);
