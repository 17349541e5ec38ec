// `npm run bench -- --cluster`: three `stead start --cluster` nodes and PostgreSQL on this
// machine, beside one Stead+PG node on the same PostgreSQL. Measures (1) w1 and w2 with the load
// spread over the three nodes against the same load on the single node, so the cost of
// forwarding shows as a ratio; (2) failover: kill -9 of the node holding an object, to the first
// acknowledged write to that object through another node, p50/p99 over the trials; (3) a rolling
// restart of all three nodes (SIGTERM, restart) under load, counting failed requests.
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type LoadResult, runAutocannon } from "./lib/http-load.ts";
import { createSchema, DEFAULT_POSTGRES_URL, type PostgresProbe } from "./lib/postgres.ts";
import {
  freePort,
  makeTempDir,
  removeTempDir,
  startChild,
  stopChild,
  tail,
} from "./lib/processes.ts";
import { Latencies } from "./lib/stats.ts";
import { loadBenchApp } from "./lib/workerd-config.ts";

const STEAD_CLI = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../", import.meta.url));
const SECRET = "bench-cluster-secret-0123456789";

export interface ClusterBenchOptions {
  quick: boolean;
  postgresUrl: string | undefined;
  connections: number;
  seconds: number;
}

interface Node {
  name: string;
  url: string;
  child: ChildProcess;
  logFile: string;
  dataDir: string;
  advertise: string;
}

export async function runClusterBench(options: ClusterBenchOptions): Promise<void> {
  const app = loadBenchApp(fileURLToPath(new URL("app", import.meta.url)));
  const url = options.postgresUrl ?? DEFAULT_POSTGRES_URL;
  const trials = options.quick ? 5 : 20;
  const seconds = options.seconds;
  const dir = makeTempDir("cluster");
  const probes: PostgresProbe[] = [];
  const nodes: Node[] = [];
  const start = async (name: string, storage: string, cluster: boolean, dataDir?: string) => {
    const port = await freePort();
    const advertise = `127.0.0.1:${await freePort()}`;
    const logFile = join(dir, `${name}.log`);
    const data = dataDir ?? join(dir, `${name}-data`);
    const child = startChild(
      process.execPath,
      [
        STEAD_CLI,
        "start",
        app.dir,
        "--port",
        String(port),
        "--host",
        "127.0.0.1",
        "--data-dir",
        data,
        "--log-format",
        "json",
        "--threads",
        "0",
        ...(cluster
          ? ["--cluster", storage, "--node-id", name, "--advertise", advertise]
          : ["--storage", storage]),
      ],
      {
        logFile,
        confinement: { cpus: undefined },
        cwd: REPO,
        env: { ...process.env, STEAD_CLUSTER_SECRET: SECRET },
      },
    );
    const node: Node = {
      name,
      url: `http://127.0.0.1:${port}`,
      child,
      logFile,
      dataDir: data,
      advertise,
    };
    await ready(node);
    return node;
  };
  try {
    const single = await createSchema(url);
    probes.push(single);
    const clustered = await createSchema(url);
    probes.push(clustered);
    const lone = await start("single", single.storageUrl, false);
    for (const name of ["n0", "n1", "n2"])
      nodes.push(await start(name, clustered.storageUrl, true));

    process.stdout.write(
      `\nCluster bench: 3 nodes (--threads 0) and PostgreSQL at ${redact(url)} on this machine, ${options.connections} connections, ${seconds} s per run\n\n`,
    );
    process.stdout.write(
      "| workload | one Stead+PG node | three nodes, load spread | ratio |\n|---|---|---|---|\n",
    );
    for (const [id, path] of [
      ["w1", () => "/w1"],
      ["w2", () => `/w2/${Math.floor(Math.random() * 1000)}`],
    ] as const) {
      const one = await load([lone], path, options.connections, seconds);
      const three = await load(nodes, path, options.connections, seconds);
      process.stdout.write(
        `| ${id} | ${fmt(one)} | ${fmt(three)} | ${(three.perSecond / one.perSecond).toFixed(2)}x |\n`,
      );
    }
    await stopChild(lone.child, 2_000);

    // Failover: the first acknowledged write to an object of a node killed with SIGKILL.
    const times = new Latencies();
    for (let trial = 0; trial < trials; trial++) {
      const name = `failover-${trial}`;
      const victimIndex = trial % 3;
      const victim = nodes[victimIndex]!;
      if (!(await post(victim, `/w2/${name}`))) throw new Error(`trial ${trial}: no first write`);
      const killedAt = performance.now();
      await stopChild(victim.child, 0);
      const other = nodes[(victimIndex + 1) % 3]!;
      while (!(await post(other, `/w2/${name}`))) await sleep(20);
      times.add(performance.now() - killedAt);
      nodes[victimIndex] = await start(victim.name, clustered.storageUrl, true, victim.dataDir);
    }
    process.stdout.write(
      `\nFailover (kill -9 to the first acknowledged write through another node, ${trials} trials, default lease): ${(() => {
        const [p50, p99, max] = times.percentiles(50, 99, 100);
        return `p50 ${ms(p50)}, p99 ${ms(p99)}, max ${ms(max)}`;
      })()}\n`,
    );

    // Rolling restart under load: every node in turn, SIGTERM then start again.
    const up = [true, true, true];
    let ok = 0;
    let failed = 0;
    const failures = new Map<string, number>();
    let running = true;
    const client = async (c: number) => {
      for (let n = 0; running; n++) {
        const live = nodes.filter((_, i) => up[i]);
        const node = live[(c + n) % live.length]!;
        const result = await post(node, `/w2/${(c * 7 + n) % 1000}`);
        if (result) ok++;
        else {
          failed++;
          failures.set(lastFailure, (failures.get(lastFailure) ?? 0) + 1);
        }
      }
    };
    const clients = Promise.all(Array.from({ length: options.connections }, (_, c) => client(c)));
    const restartStarted = performance.now();
    for (let i = 0; i < 3; i++) {
      await sleep(options.quick ? 500 : 2_000);
      up[i] = false;
      await stopChild(nodes[i]!.child, 30_000);
      nodes[i] = await start(nodes[i]!.name, clustered.storageUrl, true, nodes[i]!.dataDir);
      up[i] = true;
    }
    await sleep(options.quick ? 500 : 2_000);
    running = false;
    await clients;
    process.stdout.write(
      `Rolling restart of 3 nodes under load (${options.connections} clients, ${ms(performance.now() - restartStarted)}): ${ok} requests answered, ${failed} failed${failed === 0 ? "" : `: ${[...failures].map(([why, n]) => `${n}x ${why}`).join("; ")}`}\n`,
    );
  } finally {
    for (const node of nodes) await stopChild(node.child, 0);
    for (const probe of probes) await probe.drop().catch(() => {});
    removeTempDir(dir);
  }
}

let lastFailure = "";

async function post(node: Node, path: string): Promise<boolean> {
  try {
    const response = await fetch(`${node.url}${path}`, { method: "POST" });
    const text = await response.text();
    if (response.ok) return true;
    lastFailure = `${response.status} ${text
      .replace(/[0-9a-f]{64}/g, "<id>")
      .replace(/127\.0\.0\.1:\d+/g, "<addr>")
      .slice(0, 240)}`;
  } catch (error) {
    lastFailure = (error as Error).message;
  }
  return false;
}

/** The same load spread evenly over `nodes` (connections split between them), summed. */
async function load(
  nodes: Node[],
  path: () => string,
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  const share = Math.max(1, Math.floor(connections / nodes.length));
  const results = await Promise.all(
    nodes.map((node) =>
      runAutocannon({
        url: node.url,
        connections: share,
        path,
        luaPath: "",
        seconds,
        capMs: seconds * 1000 + 30_000,
      }),
    ),
  );
  const total = results.reduce((sum, r) => sum + r.ok, 0);
  const failed = results.reduce((sum, r) => sum + r.failed, 0);
  return {
    tool: "autocannon",
    ok: total,
    failed,
    seconds,
    perSecond: total / seconds,
    p50Ms: Math.max(...results.map((r) => r.p50Ms ?? 0)),
    p99Ms: Math.max(...results.map((r) => r.p99Ms ?? 0)),
    failures: {},
  };
}

async function ready(node: Node): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (node.child.exitCode !== null) break;
    try {
      const response = await fetch(`${node.url}/health`, { signal: AbortSignal.timeout(1000) });
      if ((await response.text()) === "ok") return;
    } catch {
      // Not yet.
    }
    await sleep(50);
  }
  throw new Error(`node ${node.name} did not start:\n${tail(node.logFile)}`);
}

function fmt(result: LoadResult): string {
  const failed = result.failed === 0 ? "" : `, ${result.failed} failed`;
  return `${Math.round(result.perSecond).toLocaleString("en-US")} req/s (p99 ${result.p99Ms?.toFixed(1)} ms${failed})`;
}

function ms(value: number | undefined): string {
  return value === undefined ? "-" : `${(value / 1000).toFixed(2)} s`;
}

function redact(url: string): string {
  return url.replace(/:[^:@/]*@/, ":***@");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
