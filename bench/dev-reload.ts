// How long `stead dev` takes from a file save to the new code answering: copies an app to a
// temporary directory, runs `stead dev` on it, then edits one file several times and polls
// until the edit is served. Usage: node --import ./src/register.ts bench/dev-reload.ts
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const MAIN = join(ROOT, "src/cli/main.ts");
const ROUNDS = 7;

interface Case {
  name: string;
  app: string;
  /** The file edited, relative to the app. */
  file: string;
  /** The file's text with `marker` in what `path` answers. */
  edit(text: string, marker: string): string;
  path: string;
}

const CASES: Case[] = [
  {
    name: "templates/chat",
    app: join(ROOT, "templates/chat"),
    file: "src/page.ts",
    edit: (text, marker) => text.replace("<head>", `<head><!--${marker}-->`),
    path: "/",
  },
  {
    name: "test/fixtures/apps/hono-app",
    app: join(ROOT, "test/fixtures/apps/hono-app"),
    file: "src/lib/greet.ts",
    edit: (text, marker) => text.replace("hello ", `${marker} `),
    path: "/",
  },
];

async function serving(child: ChildProcess): Promise<string> {
  let buffered = "";
  return new Promise((resolve, reject) => {
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      const url = /"url":"([^"]+)"/.exec(buffered)?.[1];
      if (url !== undefined) resolve(url);
    });
    child.once("exit", (code) => reject(new Error(`stead dev exited with ${code}`)));
  });
}

async function answer(url: string): Promise<string | undefined> {
  try {
    return await (await fetch(url)).text();
  } catch {
    return undefined;
  }
}

for (const c of CASES) {
  const dir = mkdtempSync(join(tmpdir(), "stead-reload-"));
  cpSync(c.app, dir, { recursive: true, filter: (path) => !path.includes(".stead") });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  const child = spawn(
    process.execPath,
    [...process.execArgv, MAIN, "dev", dir, "--port", "0", "--log-format", "json"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  try {
    const url = await serving(child);
    await answer(url + c.path);
    const original = readFileSync(join(dir, c.file), "utf8");
    const times: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const marker = `edit${round}x${Date.now()}`;
      const started = performance.now();
      writeFileSync(join(dir, c.file), c.edit(original, marker));
      for (;;) {
        const body = await answer(url + c.path);
        if (body?.includes(marker)) break;
        await new Promise((resolve) => setTimeout(resolve, 2));
        if (performance.now() - started > 20_000) throw new Error(`${c.name}: no reload in 20 s`);
      }
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    console.log(
      `${c.name}: save to answer median ${times[Math.floor(times.length / 2)]!.toFixed(0)} ms (min ${times[0]!.toFixed(0)}, max ${times.at(-1)!.toFixed(0)}, ${ROUNDS} edits)`,
    );
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}
