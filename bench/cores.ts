// `npm run bench:cores [-- --seconds N]`: Stead on one core against Stead on two, the same
// HTTP workloads as `npm run bench`. One core: the server pinned to CPU 0 with objects on its
// main thread (--threads 0). Two cores: the server on CPUs 0 and 1 with two object threads.
// The load generator is not pinned (on a two-core machine it shares the cores with the server
// in both runs), so read the ratio, not the absolute numbers.
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type HttpLoad, runAutocannon, runWrk } from "./lib/http-load.ts";
import { makeTempDir, removeTempDir, which } from "./lib/processes.ts";
import { startServer } from "./lib/servers.ts";
import { loadBenchApp } from "./lib/workerd-config.ts";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "8" } } });
const seconds = Number(values.seconds);
const app = loadBenchApp(join(fileURLToPath(new URL(".", import.meta.url)), "app"));
const scratch = makeTempDir("cores");
const http = which("wrk")
  ? (load: HttpLoad) => runWrk(load, scratch)
  : (load: HttpLoad) => runAutocannon(load);

const WORKLOADS = [
  { id: "w1", path: () => "/w1", luaPath: `"/w1"` },
  {
    id: "w2",
    path: () => `/w2/${Math.floor(Math.random() * 1000)}`,
    luaPath: `"/w2/" .. math.random(0, 999)`,
  },
  { id: "w3", path: () => "/w3", luaPath: `"/w3"` },
  { id: "w4", path: () => "/w4", luaPath: `"/w4"` },
];
const SETUPS = [
  { name: "1 core, --threads 0", cpus: "0", threads: "0" },
  { name: "2 cores, --threads 2", cpus: "0,1", threads: "2" },
];

if (availableParallelism() < 2) {
  process.stderr.write("bench:cores needs at least two cores.\n");
  process.exit(1);
}
process.stdout.write(
  `Stead on 1 core vs 2 cores, ${seconds} s per workload (${which("wrk") ? "wrk" : "autocannon"})\n`,
);
for (const workload of WORKLOADS) {
  const rates: number[] = [];
  for (const setup of SETUPS) {
    process.env.STEAD_THREADS = setup.threads;
    const server = await startServer("stead", {
      app,
      confinement: { cpus: setup.cpus },
      readyTimeoutMs: 30_000,
    });
    try {
      const load = {
        url: server.url,
        connections: 32,
        path: workload.path,
        luaPath: workload.luaPath,
      };
      await runAutocannon({ ...load, seconds: 1, capMs: 30_000 });
      const result = await http({ ...load, seconds, capMs: (seconds + 30) * 1000 });
      rates.push(result.perSecond);
      process.stdout.write(
        `  ${workload.id} ${setup.name.padEnd(22)} ${Math.round(result.perSecond).toLocaleString("en-US").padStart(8)} req/s  p99 ${(result.p99Ms ?? Number.NaN).toFixed(1)} ms\n`,
      );
    } finally {
      await server.stop();
    }
  }
  process.stdout.write(
    `  ${workload.id} 2 cores / 1 core: ${(rates[1]! / rates[0]!).toFixed(2)}x\n`,
  );
}
removeTempDir(scratch);
