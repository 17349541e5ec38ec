import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { SteadError } from "../core/errors.ts";

/** A wrangler config's custom build (`build.command`), as the config layer resolves it. */
export interface CustomBuild {
  /** The shell command. */
  readonly command: string;
  /** The absolute directory it runs in (`build.cwd`). */
  readonly cwd: string;
}

/**
 * Runs the config's `build.command` through the system shell in `build.cwd`, as wrangler does
 * before bundling, with the app's `node_modules/.bin` on the PATH. Its output goes to stderr, so stdout stays the server's log. Throws
 * `BUILD_FAILED` naming the command and its exit code (or signal) when it fails.
 */
export async function runCustomBuild(build: CustomBuild, configPath: string): Promise<void> {
  if (!existsSync(build.cwd)) {
    throw failed(build, configPath, `cannot run: its directory (build.cwd) does not exist`);
  }
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(build.command, {
      shell: true,
      cwd: build.cwd,
      env: { ...process.env, PATH: withPackageBins(build.cwd, process.env.PATH) },
      stdio: ["ignore", 2, 2],
    });
  } catch (cause) {
    throw failed(build, configPath, `could not be started (${String(cause)})`, cause);
  }
  const outcome = Promise.race([
    once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>,
    once(child, "error").then(([error]) => {
      throw failed(build, configPath, `could not be started (${String(error)})`, error);
    }),
  ]);
  const [code, signal] = await outcome;
  if (code === 0) return;
  throw failed(
    build,
    configPath,
    signal === null ? `exited with code ${code}` : `was ended by ${signal}`,
  );
}

/**
 * `path` with the `node_modules/.bin` of `dir` and of every directory above it in front, nearest
 * first, as `npm run` sets it: a build command names the app's own tools (`esbuild ...`) however
 * Stead was started.
 */
function withPackageBins(dir: string, path: string | undefined): string {
  const bins: string[] = [];
  for (let at = resolve(dir); ; at = dirname(at)) {
    bins.push(join(at, "node_modules", ".bin"));
    if (dirname(at) === at) break;
  }
  return [...bins, ...(path === undefined || path === "" ? [] : [path])].join(delimiter);
}

function failed(build: CustomBuild, configPath: string, what: string, cause?: unknown): SteadError {
  return new SteadError(
    "BUILD_FAILED",
    `The custom build command ${JSON.stringify(build.command)} (build.command in ${configPath}, run in ${build.cwd}) ${what}. Its output is above; fix the command or what it builds.`,
    cause === undefined ? undefined : { cause },
  );
}
