// Which PostgreSQL client the storage driver should use: pg (node-postgres, pure JS) against
// postgres.js (porsager/postgres; 3.x as `postgres`, 4.x as `postgres-v4`), measured on the
// driver's hot path: one fenced statement per object commit (reference/storage-and-replication.md
// §8b), a conditional UPDATE of the object's head row and an INSERT of a log row with a bytea body.
//
//   node_modules/.bin/node bench/postgres-client.ts            full run (5 repetitions, 5 s each)
//   node_modules/.bin/node bench/postgres-client.ts --quick    one repetition of 2 s, for iteration
//   options: --reps N --seconds S --only pg-pool,pjs3 --skip-load --skip-checks
//            --retries N (measure again, up to N times, when other processes disturbed a run)
//            --report a.json,b.json (print the load table again from saved results, merged)
//
// Needs a PostgreSQL at 127.0.0.1:5432 (trust auth, user postgres, database test; PGHOST, PGPORT,
// PGUSER, PGDATABASE override). Everything goes into a new schema bench_client_<random>, dropped
// at the end. Prints markdown tables and writes bench/results/<date>-postgres-client.json.

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { Socket } from "node:net";
import { cpus, release, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import postgres3 from "postgres";
import postgres4 from "postgres-v4";
import { Latencies } from "./lib/stats.ts";

const here = dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2);
function flag(name: string): boolean {
  return argv.includes(`--${name}`);
}
function option(name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}
const quick = flag("quick");
const REPS = Number(option("reps") ?? (quick ? 1 : 5));
const SECONDS = Number(option("seconds") ?? (quick ? 2 : 5));
const WARMUP_SECONDS = quick ? 1 : 1.5;
const ONLY = option("only")?.split(",");
const RETRIES = Number(option("retries") ?? 0);

const CONN = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "test",
};
const SCHEMA = `bench_client_${randomBytes(4).toString("hex")}`;

// The hot-path statement, as in the reference (§8b) without the alarm CTEs; `::int` so that both
// libraries return a number rather than a bigint string.
const COMMIT_SQL = `WITH head AS (
  UPDATE objects SET txid = $2, db_pages = $3
  WHERE object_id = $1 AND epoch = $4 AND txid = $5
  RETURNING 1),
log AS (
  INSERT INTO object_log (object_id, txid, epoch, db_pages, body)
  SELECT $1, $2, $4, $3, $6 FROM head RETURNING 1)
SELECT (SELECT count(*) FROM log)::int AS committed`;

// ---------------------------------------------------------------------------------------------
// Drivers: the same commit through each library

interface Commit {
  id: Buffer;
  txid: number;
  dbPages: number;
  epoch: number;
  prevTxid: number;
  body: Buffer;
}

interface DriverOptions {
  poolSize: number;
  appName: string;
  /** Server-side statement_timeout, sent as a startup parameter. */
  statementTimeoutMs?: number;
  /** The library's own client-side timeout, where it has one (pg query_timeout, postgres.js 4 query_timeout; postgres.js 3: .cancel() on a timer). */
  clientTimeoutMs?: number;
}

interface Driver {
  commit(c: Commit): Promise<number>;
  end(): Promise<void>;
  /** Errors reported outside any query (pool/client 'error' events). */
  backgroundErrors: string[];
}

interface Variant {
  key: string;
  label: string;
  /** Runs in every load scenario (false: only the ones the prepared-statement question needs). */
  main: boolean;
  create(o: DriverOptions): Driver;
}

const pgValues = (c: Commit) => [c.id, c.txid, c.dbPages, c.epoch, c.prevTxid, c.body];

function pgConfig(o: DriverOptions): pg.ClientConfig {
  return {
    ...CONN,
    application_name: o.appName,
    options: `-c search_path=${SCHEMA}`,
    ...(o.statementTimeoutMs ? { statement_timeout: o.statementTimeoutMs } : {}),
    ...(o.clientTimeoutMs ? { query_timeout: o.clientTimeoutMs } : {}),
  };
}

/** pg.Pool: one query per checked-out connection; 64 commits queue in the pool for 4 or 16 connections. */
function pgPool(named: boolean): Variant {
  return {
    key: named ? "pg-pool" : "pg-pool-unnamed",
    label: named ? "pg Pool, named statement" : "pg Pool, unnamed statement",
    main: named,
    create(o) {
      const pool = new pg.Pool({ ...pgConfig(o), max: o.poolSize });
      const backgroundErrors: string[] = [];
      pool.on("error", (e) => backgroundErrors.push(e.message));
      const name = named ? "stead_commit" : undefined;
      return {
        async commit(c) {
          const r = await pool.query<{ committed: number }>({
            name,
            text: COMMIT_SQL,
            values: pgValues(c),
          });
          return r.rows[0]!.committed;
        },
        end: () => pool.end(),
        backgroundErrors,
      };
    },
  };
}

/**
 * pg.Client with `pipeline: true` (node-postgres 8.2x), N of them: pg.Pool cannot pipeline (it
 * checks a client out per query), so this is the small multiplexer a driver would have to write:
 * send on the connection with the fewest queries in flight, replace a connection that died.
 */
function pgPipeline(): Variant {
  return {
    key: "pg-pipeline",
    label: "pg Client pipeline:true ×N, named statement",
    main: true,
    create(o) {
      const backgroundErrors: string[] = [];
      interface Slot {
        client: pg.Client;
        ready: Promise<void>;
        inFlight: number;
        dead: boolean;
      }
      const open = (): Slot => {
        const client = new pg.Client({ ...pgConfig(o), pipeline: true });
        const slot: Slot = {
          client,
          ready: client.connect().then(() => {}),
          inFlight: 0,
          dead: false,
        };
        slot.ready.catch(() => (slot.dead = true));
        client.on("error", (e) => {
          backgroundErrors.push(e.message);
          slot.dead = true;
        });
        client.on("end", () => (slot.dead = true));
        return slot;
      };
      const slots = Array.from({ length: o.poolSize }, open);
      return {
        async commit(c) {
          let best: Slot | undefined;
          for (let i = 0; i < slots.length; i++) {
            if (slots[i]!.dead) {
              slots[i]!.client.end().catch(() => {});
              slots[i] = open();
            }
            if (best === undefined || slots[i]!.inFlight < best.inFlight) best = slots[i]!;
          }
          const slot = best!;
          slot.inFlight++;
          try {
            await slot.ready;
            const r = await slot.client.query<{ committed: number }>({
              name: "stead_commit",
              text: COMMIT_SQL,
              values: pgValues(c),
            });
            return r.rows[0]!.committed;
          } finally {
            slot.inFlight--;
          }
        },
        async end() {
          await Promise.all(slots.map((s) => s.client.end().catch(() => {})));
        },
        backgroundErrors,
      };
    },
  };
}

/** postgres.js 3.x or 4.x: its own pool, pipelining up to max_pipeline (100) queries per connection. */
function postgresJs(major: 3 | 4, prepare: boolean): Variant {
  return {
    key: `pjs${major}${prepare ? "" : "-noprepare"}`,
    label: `postgres.js ${major}, prepare: ${prepare}`,
    main: prepare,
    create(o) {
      const make = (major === 3 ? postgres3 : postgres4) as typeof postgres3;
      const sql = make({
        ...CONN,
        max: o.poolSize,
        prepare,
        onnotice: () => {},
        connection: {
          application_name: o.appName,
          search_path: SCHEMA,
          ...(o.statementTimeoutMs ? { statement_timeout: o.statementTimeoutMs } : {}),
        },
        // 4.x only: seconds, waiting for a connection and running together.
        ...(major === 4 && o.clientTimeoutMs ? { query_timeout: o.clientTimeoutMs / 1000 } : {}),
      } as postgres3.Options<{}>);
      const cancelAfter = major === 3 ? o.clientTimeoutMs : undefined;
      return {
        async commit(c) {
          // unsafe() with the same text and six parameters as pg; a tagged template sends the
          // same protocol messages but a parameter per interpolation (nine here).
          const q = sql.unsafe(COMMIT_SQL, pgValues(c), { prepare });
          const timer = cancelAfter ? setTimeout(() => q.cancel(), cancelAfter) : undefined;
          try {
            const rows = await q;
            return (rows[0] as unknown as { committed: number }).committed;
          } finally {
            clearTimeout(timer);
          }
        },
        end: () => sql.end({ timeout: 5 }),
        backgroundErrors: [],
      };
    },
  };
}

const ALL_VARIANTS: Variant[] = [
  pgPool(true),
  pgPipeline(),
  postgresJs(3, true),
  postgresJs(4, true),
  pgPool(false),
  postgresJs(3, false),
  postgresJs(4, false),
];
const VARIANTS = ALL_VARIANTS.filter((v) => !ONLY || ONLY.includes(v.key));

// ---------------------------------------------------------------------------------------------
// Database set-up, objects, bodies

// The harness's own connections (set-up, reconciling heads after errors, kills, checks): a small
// pg.Pool, so the 64 loops can reconcile at once.
const admin = new pg.Pool({
  ...CONN,
  max: 4,
  application_name: "bench-client-admin",
  options: `-c search_path=${SCHEMA}`,
});
admin.on("error", () => {});

interface ObjectState {
  id: Buffer;
  txid: number;
}
const EPOCH = 1;
const OBJECTS: ObjectState[] = Array.from({ length: 64 }, () => ({ id: randomBytes(16), txid: 0 }));
const SPARE: ObjectState[] = Array.from({ length: 32 }, () => ({ id: randomBytes(16), txid: 0 }));

async function setUp(): Promise<void> {
  await admin.query(`CREATE SCHEMA ${SCHEMA}`);
  await admin.query(`CREATE TABLE objects (
    object_id bytea PRIMARY KEY,
    owner_node text, owner_incarnation bigint,
    epoch bigint NOT NULL DEFAULT 0,
    txid bigint NOT NULL DEFAULT 0,
    page_size int NOT NULL DEFAULT 4096,
    db_pages int NOT NULL DEFAULT 0,
    db_checksum bigint,
    snap_txid bigint NOT NULL DEFAULT 0)`);
  await admin.query(`CREATE TABLE object_log (
    object_id bytea NOT NULL, txid bigint NOT NULL, epoch bigint NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now(), db_pages int NOT NULL,
    body bytea NOT NULL,
    PRIMARY KEY (object_id, txid))`);
  for (const o of [...OBJECTS, ...SPARE]) {
    await admin.query("INSERT INTO objects (object_id, epoch) VALUES ($1, $2)", [o.id, EPOCH]);
  }
}

async function headTxid(id: Buffer): Promise<number> {
  const r = await admin.query<{ txid: string }>("SELECT txid FROM objects WHERE object_id = $1", [
    id,
  ]);
  return Number(r.rows[0]!.txid);
}

/** Empties the log and checkpoints, so every measurement starts alike (and the disk stays small). */
async function resetLog(): Promise<void> {
  await admin.query("TRUNCATE object_log");
  await admin.query("CHECKPOINT");
}

// Page-image-like bodies: incompressible (zstd output is), sliced from one random buffer, so a
// body is a Buffer view like the one a WAL capture would hand over.
const SOURCE = randomBytes(4 << 20);
let sourceOffset = 0;
function body(size: number): Buffer {
  if (sourceOffset + size > SOURCE.length) sourceOffset = 0;
  const b = SOURCE.subarray(sourceOffset, sourceOffset + size);
  sourceOffset += 4096;
  return b;
}

function commitFor(o: ObjectState, b: Buffer): Commit {
  return {
    id: o.id,
    txid: o.txid + 1,
    dbPages: o.txid + 2,
    epoch: EPOCH,
    prevTxid: o.txid,
    body: b,
  };
}

function describeError(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string } };
  const code = err.code ? `${err.code}: ` : "";
  const cause = err.cause?.code ? ` (cause ${err.cause.code})` : "";
  return `${code}${err.message ?? String(e)}${cause}`;
}

// ---------------------------------------------------------------------------------------------
// CPU accounting: this process, the postgres processes, everything else

const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

interface CpuSample {
  at: number;
  node: NodeJS.CpuUsage;
  postgresTicks: number;
  busyTicks: number;
  stealTicks: number;
}

function postgresTicks(): number {
  let ticks = 0;
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      if (stat.slice(stat.indexOf("(") + 1, close) !== "postgres") continue;
      const fields = stat.slice(close + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // gone meanwhile
    }
  }
  return ticks;
}

function cpuSample(): CpuSample {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1);
  const [user, nice, system, , , irq, softirq, steal] = line.map(Number) as number[];
  return {
    at: performance.now(),
    node: process.cpuUsage(),
    postgresTicks: postgresTicks(),
    busyTicks: user! + nice! + system! + irq! + softirq!,
    stealTicks: steal!,
  };
}

interface CpuShares {
  /** Share of one core. */
  node: number;
  postgres: number;
  /** Everything else on the machine, plus the hypervisor's steal. */
  other: number;
  nodeMicros: number;
}

function cpuShares(a: CpuSample, b: CpuSample): CpuShares {
  const seconds = (b.at - a.at) / 1000;
  const nodeMicros = b.node.user - a.node.user + (b.node.system - a.node.system);
  const node = nodeMicros / 1e6 / seconds;
  const postgres = (b.postgresTicks - a.postgresTicks) / CLK_TCK / seconds;
  const busy = (b.busyTicks - a.busyTicks) / CLK_TCK / seconds;
  const steal = (b.stealTicks - a.stealTicks) / CLK_TCK / seconds;
  return { node, postgres, other: Math.max(0, busy - node - postgres) + steal, nodeMicros };
}

// ---------------------------------------------------------------------------------------------
// Load: N objects, each with one commit in flight

interface Scenario {
  key: string;
  label: string;
  objects: number;
  poolSize: number;
  bodySize: number;
  /** Also run the non-main variants (unnamed / prepare: false). */
  prepareQuestion: boolean;
}

const SCENARIOS: Scenario[] = [
  {
    key: "seq-8k",
    label: "1 object, sequential, 8 KB",
    objects: 1,
    poolSize: 4,
    bodySize: 8192,
    prepareQuestion: true,
  },
  {
    key: "c64-p4-8k",
    label: "64 objects, pool 4, 8 KB",
    objects: 64,
    poolSize: 4,
    bodySize: 8192,
    prepareQuestion: true,
  },
  {
    key: "c64-p16-8k",
    label: "64 objects, pool 16, 8 KB",
    objects: 64,
    poolSize: 16,
    bodySize: 8192,
    prepareQuestion: false,
  },
  {
    key: "seq-40k",
    label: "1 object, sequential, 40 KB",
    objects: 1,
    poolSize: 4,
    bodySize: 40960,
    prepareQuestion: false,
  },
  {
    key: "c64-p4-40k",
    label: "64 objects, pool 4, 40 KB",
    objects: 64,
    poolSize: 4,
    bodySize: 40960,
    prepareQuestion: false,
  },
  {
    key: "c64-p16-40k",
    label: "64 objects, pool 16, 40 KB",
    objects: 64,
    poolSize: 16,
    bodySize: 40960,
    prepareQuestion: false,
  },
];

interface Measurement {
  variant: string;
  scenario: string;
  rep: number;
  commitsPerSecond: number;
  p50: number;
  p99: number;
  /** Node CPU (user + system) per commit, µs. */
  cpuMicrosPerCommit: number;
  cpu: CpuShares;
  errors: string[];
  /** Every acknowledged commit is in object_log (checked after the run). */
  logRowsMatch: boolean;
  loadavg: string;
  /** Other processes and the hypervisor took more than DISTURBED of a core meanwhile. */
  disturbed: boolean;
}

/** Share of a core taken by everything else above which a measurement counts as disturbed. */
const DISTURBED = 0.25;

async function measure(variant: Variant, scenario: Scenario, rep: number): Promise<Measurement> {
  const driver = variant.create({ poolSize: scenario.poolSize, appName: `bench-${variant.key}` });
  const objects = OBJECTS.slice(0, scenario.objects);
  const latencies = new Latencies();
  const errors: string[] = [];
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  let inWindow = 0;
  let acknowledged = 0;
  let stop = false;

  const loops = objects.map(async (o) => {
    while (!stop) {
      const t0 = performance.now();
      try {
        const committed = await driver.commit(commitFor(o, body(scenario.bodySize)));
        const t1 = performance.now();
        if (committed !== 1) throw new Error(`fenced: committed = ${committed}`);
        o.txid++;
        acknowledged++;
        if (t1 >= windowStart && t1 <= windowEnd) {
          inWindow++;
          if (t0 >= windowStart) latencies.add(t1 - t0);
        }
      } catch (e) {
        errors.push(describeError(e));
        o.txid = await headTxid(o.id);
      }
    }
  });

  await sleep(WARMUP_SECONDS * 1000);
  const loadavg = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const a = cpuSample();
  windowStart = a.at;
  await sleep(SECONDS * 1000);
  const b = cpuSample();
  windowEnd = b.at;
  stop = true;
  await Promise.all(loops);
  await driver.end();

  const rows = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM object_log");
  const cpu = cpuShares(a, b);
  const [p50, p99] = latencies.percentiles(50, 99);
  await resetLog();
  return {
    variant: variant.key,
    scenario: scenario.key,
    rep,
    commitsPerSecond: inWindow / ((windowEnd - windowStart) / 1000),
    p50: p50 ?? Number.NaN,
    p99: p99 ?? Number.NaN,
    cpuMicrosPerCommit: cpu.nodeMicros / inWindow,
    cpu,
    errors,
    logRowsMatch: rows.rows[0]!.n === acknowledged,
    loadavg,
    disturbed: cpu.other > DISTURBED,
  };
}

// ---------------------------------------------------------------------------------------------
// Behaviour checks

/** What goes on the wire per commit: bytes, frontend messages, and bursts (round trips). */
interface Wire {
  bytesPerCommit: number;
  burstsPerCommit: number;
  messages: string;
}

async function wireCheck(variant: Variant, bodySize: number): Promise<Wire> {
  const driver = variant.create({ poolSize: 1, appName: `bench-wire-${variant.key}` });
  const o = SPARE[0]!;
  o.txid = await headTxid(o.id);
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      if ((await driver.commit(commitFor(o, body(bodySize)))) !== 1) throw new Error("fenced");
      o.txid++;
    }
  };
  await run(5); // connect, prepare
  const originalWrite = Socket.prototype.write;
  let bytes = 0;
  let bursts = 0;
  let burstOpen = false;
  let lastCommit: string[] = [];
  let current: string[] = [];
  Socket.prototype.write = function (this: Socket, chunk: unknown, ...rest: unknown[]) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Uint8Array);
    bytes += buf.byteLength;
    if (!burstOpen) {
      burstOpen = true;
      bursts++;
      if (current.length) current.push("|");
      setImmediate(() => (burstOpen = false));
    }
    current.push(messageTypes(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)));
    return (originalWrite as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof Socket.prototype.write;
  const n = 50;
  try {
    for (let i = 0; i < n; i++) {
      current = [];
      burstOpen = false;
      await run(1);
      lastCommit = current;
    }
  } finally {
    Socket.prototype.write = originalWrite;
  }
  await driver.end();
  await resetLog();
  return { bytesPerCommit: bytes / n, burstsPerCommit: bursts / n, messages: lastCommit.join(" ") };
}

/** Frontend message types in a chunk: "B D E S" and so on. */
function messageTypes(b: Buffer): string {
  const types: string[] = [];
  let i = 0;
  while (i + 5 <= b.length) {
    types.push(String.fromCharCode(b[i]!));
    i += 1 + b.readInt32BE(i + 1);
  }
  return i === b.length ? types.join(" ") : `${types.join(" ")} (+partial)`;
}

/**
 * Whether the library still reads the caller's Buffer after the call returns: fill each body
 * with 'A', start the commit, fill it with 'B' at once, and see which byte was stored.
 */
async function ownershipCheck(variant: Variant): Promise<{ original: number; mutated: number }> {
  const driver = variant.create({ poolSize: 4, appName: `bench-own-${variant.key}` });
  const objects = SPARE.slice(0, 16);
  for (const o of objects) o.txid = await headTxid(o.id);
  // Warm: connections open and the statement prepared.
  await Promise.all(
    objects.map(async (o) => {
      await driver.commit(commitFor(o, body(8192)));
      o.txid++;
    }),
  );
  const started = objects.map((o) => {
    const b = Buffer.alloc(8192, 0x41);
    const c = commitFor(o, b);
    const p = driver.commit(c);
    b.fill(0x42);
    return p.then(() => {
      o.txid++;
      return c.txid;
    });
  });
  const txids = await Promise.all(started);
  let original = 0;
  let mutated = 0;
  for (let i = 0; i < objects.length; i++) {
    const r = await admin.query<{ b: number }>(
      "SELECT get_byte(body, 100) AS b FROM object_log WHERE object_id = $1 AND txid = $2",
      [objects[i]!.id, txids[i]],
    );
    if (r.rows[0]!.b === 0x41) original++;
    else mutated++;
  }
  await driver.end();
  await resetLog();
  return { original, mutated };
}

interface KillResult {
  connections: number;
  killed: number;
  errors: number;
  /** Each distinct rejection message, with how many commits got it. */
  distinctErrors: Record<string, number>;
  /** ms from pg_terminate_backend to the first and last rejection. */
  firstRejectMs: number | null;
  lastRejectMs: number | null;
  /** Rejections, ms after the kill (rounded). */
  rejectAtMs: number[];
  rateBefore: number;
  /** Commits acknowledged in each 100 ms after the kill, for one second. */
  timeline100ms: number[];
  /** Commits/s from 0.5 s to 2.5 s after the kill. */
  rateAfter: number;
  connectionsAtEnd: number;
  backgroundErrors: string[];
  /** Log rows minus acknowledged commits: rejected commits that were committed all the same. */
  appliedDespiteRejection: number;
}

/** Kill one (or all) of the driver's backends in the middle of 64-object load, pool 4. */
async function killCheck(variant: Variant, all: boolean): Promise<KillResult> {
  const appName = `bench-kill-${variant.key}`;
  const driver = variant.create({ poolSize: 4, appName });
  const objects = OBJECTS;
  for (const o of objects) o.txid = await headTxid(o.id);
  const successes: number[] = [];
  const rejections: Array<{ at: number; error: string }> = [];
  let stop = false;
  const loops = objects.map(async (o) => {
    while (!stop) {
      try {
        const committed = await driver.commit(commitFor(o, body(8192)));
        if (committed !== 1) throw new Error(`fenced: committed = ${committed}`);
        o.txid++;
        successes.push(performance.now());
      } catch (e) {
        rejections.push({ at: performance.now(), error: describeError(e) });
        o.txid = await headTxid(o.id);
      }
    }
  });
  await sleep(1500);
  const pids = await admin.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid",
    [appName],
  );
  const targets = all ? pids.rows : pids.rows.slice(0, 1);
  const killedAt = performance.now();
  for (const t of targets) await admin.query("SELECT pg_terminate_backend($1)", [t.pid]);
  await sleep(3000);
  const end = await admin.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
    [appName],
  );
  stop = true;
  await Promise.all(loops);
  await driver.end();
  const rows = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM object_log");
  await resetLog();
  const between = (from: number, to: number) =>
    successes.filter((t) => t >= killedAt + from && t < killedAt + to).length;
  const after = rejections.filter((r) => r.at >= killedAt);
  const distinctErrors: Record<string, number> = {};
  for (const r of rejections) distinctErrors[r.error] = (distinctErrors[r.error] ?? 0) + 1;
  return {
    connections: pids.rows.length,
    killed: targets.length,
    errors: rejections.length,
    distinctErrors,
    firstRejectMs: after.length ? after[0]!.at - killedAt : null,
    lastRejectMs: after.length ? after[after.length - 1]!.at - killedAt : null,
    rejectAtMs: after.map((r) => Math.round(r.at - killedAt)),
    rateBefore: between(-1000, 0),
    timeline100ms: Array.from({ length: 10 }, (_, i) => between(i * 100, (i + 1) * 100)),
    rateAfter: between(500, 2500) / 2,
    connectionsAtEnd: end.rows[0]!.n,
    backgroundErrors: driver.backgroundErrors,
    appliedDespiteRejection: rows.rows[0]!.n - successes.length,
  };
}

interface TimeoutResult {
  rejectedAfterMs: number | null;
  error: string | null;
  /** The timed-out commit was applied anyway once the lock went away (outcome was unknown). */
  appliedAnyway: boolean;
  nextCommitOk: boolean;
  nextCommitError: string | null;
}

/**
 * A commit blocked on a row lock held by another session: rejected by the server's
 * statement_timeout (500 ms), or by the library's client-side timeout (500 ms).
 */
async function timeoutCheck(variant: Variant, kind: "server" | "client"): Promise<TimeoutResult> {
  const driver = variant.create({
    poolSize: 2,
    appName: `bench-timeout-${variant.key}`,
    ...(kind === "server" ? { statementTimeoutMs: 500 } : { clientTimeoutMs: 500 }),
  });
  const o = SPARE[1]!;
  o.txid = await headTxid(o.id);
  await driver.commit(commitFor(o, body(8192)));
  o.txid++;
  const locker = new pg.Client({ ...CONN, options: `-c search_path=${SCHEMA}` });
  await locker.connect();
  await locker.query("BEGIN");
  await locker.query("SELECT 1 FROM objects WHERE object_id = $1 FOR UPDATE", [o.id]);
  const before = o.txid;
  const t0 = performance.now();
  let rejectedAfterMs: number | null = null;
  let error: string | null = null;
  const attempt = driver
    .commit(commitFor(o, body(8192)))
    .then(() => {
      o.txid++;
    })
    .catch((e) => {
      rejectedAfterMs = performance.now() - t0;
      error = describeError(e);
    });
  await Promise.race([attempt, sleep(3000)]);
  await locker.query("ROLLBACK");
  await attempt;
  await locker.end();
  await sleep(300);
  const head = await headTxid(o.id);
  const appliedAnyway = error !== null && head > before;
  o.txid = head;
  let nextCommitOk = false;
  let nextCommitError: string | null = null;
  try {
    nextCommitOk = (await driver.commit(commitFor(o, body(8192)))) === 1;
    o.txid++;
  } catch (e) {
    nextCommitError = describeError(e);
  }
  await driver.end();
  await resetLog();
  return { rejectedAfterMs, error, appliedAnyway, nextCommitOk, nextCommitError };
}

// ---------------------------------------------------------------------------------------------
// Report

function median(values: number[]): number {
  const s = values.filter((v) => !Number.isNaN(v)).sort((x, y) => x - y);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const f0 = (n: number) => (Number.isNaN(n) ? "–" : Math.round(n).toLocaleString("en-US"));
const f2 = (n: number) => (Number.isNaN(n) ? "–" : n.toFixed(2));
const pct = (n: number) => `${Math.round(n * 100)}%`;

function loadTable(measurements: Measurement[]): string {
  const lines = [
    "| Scenario | Client | commits/s | × pg Pool (paired) | p50 ms | p99 ms | Node CPU µs/commit | CPU cores: Node / postgres / other | runs (commits/s) |",
    "|---|---|---:|---:|---:|---:|---:|---|---|",
  ];
  for (const s of SCENARIOS) {
    for (const v of ALL_VARIANTS) {
      const all = measurements.filter((m) => m.variant === v.key && m.scenario === s.key);
      if (all.length === 0) continue;
      // Medians over the undisturbed runs when there are at least three of them.
      const calm = all.filter((m) => !m.disturbed);
      const ofCell = calm.length >= 3 ? calm : all;
      // Against pg.Pool in the same repetition (seconds apart), which cancels slow drifts in
      // the machine's load.
      const last = (key: string, rep: number) =>
        measurements
          .filter((m) => m.variant === key && m.scenario === s.key && m.rep === rep)
          .at(-1);
      const ratios = [...new Set(all.map((m) => m.rep))].flatMap((rep) => {
        const mine = last(v.key, rep);
        const base = last("pg-pool", rep);
        return mine && base ? [mine.commitsPerSecond / base.commitsPerSecond] : [];
      });
      const runs = all.map((m) => `${f0(m.commitsPerSecond)}${m.disturbed ? "*" : ""}`).join(", ");
      const errors = all.reduce((n, m) => n + m.errors.length, 0);
      const bad = all.some((m) => !m.logRowsMatch) ? " LOG MISMATCH" : "";
      const med = (pick: (m: Measurement) => number) => median(ofCell.map(pick));
      lines.push(
        `| ${s.label} | ${v.label} | ${f0(med((m) => m.commitsPerSecond))} | ${f2(median(ratios))} | ${f2(med((m) => m.p50))} | ${f2(med((m) => m.p99))} | ${f0(med((m) => m.cpuMicrosPerCommit))} | ${f2(med((m) => m.cpu.node))} / ${f2(med((m) => m.cpu.postgres))} / ${f2(med((m) => m.cpu.other))} | ${runs}${errors ? `; ${errors} errors` : ""}${bad} |`,
      );
    }
  }
  return lines.join("\n");
}

function versionOf(pkg: string): string {
  const p = JSON.parse(readFileSync(join(here, "..", "node_modules", pkg, "package.json"), "utf8"));
  return p.version;
}

// ---------------------------------------------------------------------------------------------
// Main

/** Prints the tables again from saved results; several files are merged (repetitions renumbered). */
function report(files: string[]): void {
  const measurements: Measurement[] = [];
  let offset = 0;
  for (const file of files) {
    const saved = JSON.parse(readFileSync(file, "utf8")) as { measurements: Measurement[] };
    const reps = Math.max(0, ...saved.measurements.map((m) => m.rep));
    for (const m of saved.measurements) measurements.push({ ...m, rep: m.rep + offset });
    offset += reps;
  }
  console.log(loadTable(measurements));
}

async function main(): Promise<void> {
  const reportFiles = option("report");
  if (reportFiles) {
    report(reportFiles.split(","));
    return;
  }
  const settings: Record<string, string> = {};
  for (const name of [
    "server_version",
    "synchronous_commit",
    "fsync",
    "wal_sync_method",
    "full_page_writes",
    "commit_delay",
    "shared_buffers",
    "max_wal_size",
    "default_toast_compression",
  ]) {
    const r = await admin.query(`SHOW ${name}`);
    settings[name] = String(Object.values(r.rows[0])[0]);
  }
  const uptime = () => execFileSync("uptime", { encoding: "utf8" }).trim();
  const machine = {
    cpu: cpus()[0]?.model.trim(),
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: `Linux ${release()}`,
    node: process.version,
    pg: versionOf("pg"),
    postgres3: versionOf("postgres"),
    postgres4: versionOf("postgres-v4"),
    uptimeBefore: uptime(),
    uptimeAfter: "",
  };
  console.log(`# PostgreSQL client benchmark, schema ${SCHEMA}`);
  console.log(JSON.stringify({ settings, machine }, null, 2));

  const measurements: Measurement[] = [];
  const checks: Record<string, unknown> = {};
  try {
    await setUp();

    if (!flag("skip-load")) {
      for (let rep = 1; rep <= REPS; rep++) {
        for (const s of SCENARIOS) {
          const variants = VARIANTS.filter((v) => v.main || s.prepareQuestion);
          // Rotate the order each repetition so no client always runs first.
          const order = variants.map((_, i) => variants[(i + rep - 1) % variants.length]!);
          for (const v of order) {
            for (const o of OBJECTS) o.txid = await headTxid(o.id);
            let m = await measure(v, s, rep);
            for (let retry = 0; m.disturbed && retry < RETRIES; retry++) {
              console.error(`rep ${rep} ${s.key} ${v.key}: disturbed (${pct(m.cpu.other)}), again`);
              measurements.push(m);
              await sleep(2000);
              for (const o of OBJECTS) o.txid = await headTxid(o.id);
              m = await measure(v, s, rep);
            }
            measurements.push(m);
            console.error(
              `rep ${rep} ${s.key} ${v.key}: ${f0(m.commitsPerSecond)}/s p50 ${f2(m.p50)} p99 ${f2(m.p99)} ms, ${f0(m.cpuMicrosPerCommit)} µs CPU/commit, node ${pct(m.cpu.node)} pg ${pct(m.cpu.postgres)} other ${pct(m.cpu.other)}, load ${m.loadavg}${m.errors.length ? `, ${m.errors.length} errors: ${m.errors[0]}` : ""}${m.logRowsMatch ? "" : ", LOG MISMATCH"}`,
            );
          }
        }
      }
    }

    if (!flag("skip-checks")) {
      for (const v of VARIANTS) {
        const c: Record<string, unknown> = {};
        c.wire8k = await wireCheck(v, 8192);
        c.wire40k = await wireCheck(v, 40960);
        if (v.main) {
          c.ownership = await ownershipCheck(v);
          c.killOne = await killCheck(v, false);
          c.killAll = await killCheck(v, true);
          c.serverTimeout = await timeoutCheck(v, "server");
          c.clientTimeout = await timeoutCheck(v, "client");
        }
        checks[v.key] = c;
        console.error(`checks ${v.key}: ${JSON.stringify(c)}`);
      }
    }
  } finally {
    await admin.query(`DROP SCHEMA ${SCHEMA} CASCADE`);
    await admin.end();
  }
  machine.uptimeAfter = uptime();

  console.log("\n## Load (medians)\n");
  console.log(loadTable(measurements));
  console.log(
    `\n\\* disturbed: other processes and steal above ${DISTURBED} of a core; medians leave these out when at least three runs are left.`,
  );
  console.log("\n## Checks\n");
  console.log(JSON.stringify(checks, null, 2));
  console.log(`\nuptime before: ${machine.uptimeBefore}\nuptime after:  ${machine.uptimeAfter}`);

  const stamp = new Date()
    .toISOString()
    .replace(/:/g, "-")
    .replace(/\.\d+Z$/, "Z");
  const dir = join(here, "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${stamp}-postgres-client${quick ? "-quick" : ""}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ settings, machine, reps: REPS, seconds: SECONDS, measurements, checks }, null, 2)}\n`,
  );
  console.log(`\nRaw results: ${file}`);
}

await main();
