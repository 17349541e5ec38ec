import { once } from "node:events";
import { type FSWatcher, watch } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { dirname, join, relative } from "node:path";
import {
  type AppConfig,
  CONFIG_FILE_NAMES,
  DEPLOY_CONFIG_PATH,
  loadAppConfig,
} from "../config/index.ts";
import { describeError } from "../core/error-text.ts";
import { SteadError } from "../core/errors.ts";
import {
  type AppBuilder,
  type AppRebuild,
  createAppBuilder,
  failedFiles,
} from "../loader/app-builder.ts";
import { runCustomBuild } from "../loader/custom-build.ts";
import { AppProcess } from "./app-process.ts";
import { DirectoryWatch } from "./directory-watch.ts";
import { createLogger, type Logger } from "./logger.ts";
import type { ServerOptions } from "./options.ts";

/** Changes closer together than this are one change (an editor's write and rename). */
const DEBOUNCE_MS = 25;

/** What a batch of changes asks for; each implies the ones below it. */
interface Work {
  /** The wrangler config or `.dev.vars` changed: read it again, new builder, new process. */
  config: boolean;
  /** A file under `build.watch_dir` changed: run `build.command`. */
  command: boolean;
  /** A file the bundle was built from changed: rebuild. */
  code: boolean;
}

/**
 * `stead dev`: builds the app in this process with an incremental esbuild context, as wrangler
 * dev does, and serves it in a child process (`AppProcess`). It watches exactly what the build
 * read (the bundle's inputs, wherever they are, e.g. a monorepo's shared package), the wrangler
 * config and `.dev.vars`, and `build.watch_dir` when the config has a `build.command`. A change
 * rebuilds and starts a new child on the new bundle: objects reset, sockets close with 1012, data
 * stays. A build that fails is reported and the last good child keeps serving until a change
 * fixes it, as wrangler dev does.
 */
export async function devCommand(requested: ServerOptions): Promise<void> {
  const logger = createLogger(requested.logFormat);
  // Reloads must keep the address: pick the free port once, not at every restart.
  const options =
    requested.port === 0 ? { ...requested, port: await freePort(requested.host) } : requested;
  const session = new DevSession(options, logger);
  const stop = (signal: NodeJS.Signals) => {
    void session.stop(signal).finally(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  session.changed("config", "the app");
}

/** One `stead dev` run: its config, builder, watchers and app process. */
class DevSession {
  readonly #options: ServerOptions;
  readonly #logger: Logger;
  readonly #app: AppProcess;
  readonly #files = new DirectoryWatch((path) => this.#fileChanged(path));
  #commandWatchers: FSWatcher[] = [];
  #config: AppConfig | undefined;
  #builder: AppBuilder | undefined;
  /** The build the app process runs. */
  #current: AppRebuild | undefined;
  #inputs = new Set<string>();
  #configFiles: string[] = [];
  /** The last build failed: any change in a watched directory may be the fix (a new file). */
  #failed = true;
  /** `build.command` is running: what it writes under `watch_dir` must not run it again. */
  #commandRunning = false;
  #pending: Work = { config: false, command: false, code: false };
  #lastChange = "";
  #timer: NodeJS.Timeout | undefined;
  #working: Promise<void> | undefined;
  #stopping = false;

  constructor(options: ServerOptions, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
    this.#app = new AppProcess(options, logger);
  }

  /** Records a change; the work runs once changes stop for `DEBOUNCE_MS`. */
  changed(kind: keyof Work, what: string): void {
    if (this.#stopping) return;
    this.#pending[kind] = true;
    this.#lastChange = what;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#drain(), DEBOUNCE_MS);
  }

  async stop(signal: NodeJS.Signals): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearTimeout(this.#timer);
    this.#files.close();
    for (const watcher of this.#commandWatchers) watcher.close();
    await this.#app.stop(signal);
    await this.#working?.catch(() => {});
    await this.#builder?.dispose();
  }

  #fileChanged(path: string): void {
    if (this.#configFiles.includes(path)) this.changed("config", path);
    else if (this.#inputs.has(path) || this.#failed) this.changed("code", path);
  }

  /** Runs pending work, one batch at a time; changes during a batch make another. */
  #drain(): void {
    if (this.#working !== undefined) return;
    this.#working = (async () => {
      while (!this.#stopping && Object.values(this.#pending).some(Boolean)) {
        const work = this.#pending;
        const what = this.#lastChange;
        this.#pending = { config: false, command: false, code: false };
        try {
          await this.#reload(work, what);
        } catch (error) {
          this.#logger.error("Reloading failed", { error: describeError(error) });
        }
      }
    })().finally(() => {
      this.#working = undefined;
    });
  }

  async #reload(work: Work, what: string): Promise<void> {
    const options = this.#options;
    const fresh = work.config || this.#config === undefined;
    if (fresh) {
      if (!(await this.#loadConfig())) return;
    }
    const config = this.#config!;
    if ((fresh || work.command) && config.customBuild !== undefined) {
      this.#logger.info(`Running the custom build: ${config.customBuild.command}`);
      this.#commandRunning = true;
      try {
        await runCustomBuild(config.customBuild, config.configPath);
      } catch (error) {
        this.#reportFailure(error);
        return;
      } finally {
        // Events for what the command wrote arrive just after it exits.
        setTimeout(() => {
          this.#commandRunning = false;
        }, DEBOUNCE_MS);
      }
    }
    let build: AppRebuild;
    try {
      build = await this.#builder!.rebuild();
    } catch (error) {
      this.#failed = true;
      const root = config.runtimeOptions.cwd;
      this.#watch([...this.#inputs, ...failedFiles(error, root), config.runtimeOptions.main]);
      this.#reportFailure(error);
      return;
    }
    this.#failed = false;
    this.#inputs = new Set(build.inputs);
    this.#watch(this.#inputs);
    const previous = this.#current;
    if (previous !== undefined && !fresh && previous.digest === build.digest) {
      build.dispose(); // The same code (a save without a change, or a comment): keep serving.
      return;
    }
    if (previous !== undefined) {
      const shown = what.startsWith("/") ? relative(options.dir, what) || what : what;
      this.#logger.info(`Reloading: ${shown} changed (built in ${build.durationMs.toFixed(0)} ms)`);
    }
    this.#current = build;
    await this.#app.run(build.url);
    previous?.dispose();
  }

  /** Reads the config again and makes a builder for it; false (reported) when it is invalid. */
  async #loadConfig(): Promise<boolean> {
    const options = this.#options;
    let config: AppConfig;
    try {
      config = await loadAppConfig(options.dir, {
        dev: true,
        env: options.env,
        main: options.main,
      });
    } catch (error) {
      this.#config = undefined;
      this.#configFiles = [
        ...CONFIG_FILE_NAMES.map((name) => join(options.dir, name)),
        join(options.dir, DEPLOY_CONFIG_PATH),
        ...this.#devVarsFiles(options.dir),
      ];
      this.#watch(this.#inputs);
      this.#reportFailure(error);
      return false;
    }
    const configDir = dirname(config.configPath);
    this.#configFiles = [
      ...CONFIG_FILE_NAMES.map((name) => join(options.dir, name)),
      join(options.dir, DEPLOY_CONFIG_PATH),
      config.configPath,
      ...this.#devVarsFiles(configDir),
    ];
    await this.#builder?.dispose();
    this.#builder = undefined;
    const runtime = config.runtimeOptions;
    this.#builder = await createAppBuilder({
      ...runtime.build,
      entry: runtime.main,
      projectRoot: runtime.cwd,
      compatibilityFlags: runtime.compatibilityFlags ?? [],
    });
    this.#config = config;
    this.#failed = true;
    this.#watchCommandDirs(config);
    return true;
  }

  #devVarsFiles(dir: string): string[] {
    const env = this.#options.env;
    return [join(dir, ".dev.vars"), ...(env === undefined ? [] : [join(dir, `.dev.vars.${env}`)])];
  }

  /** Watches `files` (the bundle's inputs) and the config files. */
  #watch(files: Iterable<string>): void {
    this.#files.set([...this.#configFiles, ...files]);
  }

  /** Watches `build.watch_dir`, recursively, to run `build.command` again. */
  #watchCommandDirs(config: AppConfig): void {
    for (const watcher of this.#commandWatchers) watcher.close();
    this.#commandWatchers = [];
    for (const dir of config.customBuild?.watchDirs ?? []) {
      try {
        const watcher = watch(dir, { recursive: true }, (_event, name) => {
          if (!this.#commandRunning) this.changed("command", join(dir, String(name ?? "")));
        });
        watcher.on("error", () => watcher.close());
        this.#commandWatchers.push(watcher);
      } catch {
        this.#logger.warn(
          `build.watch_dir ${dir} cannot be watched (does it exist?): build.command runs again only when the config changes.`,
        );
      }
    }
  }

  #reportFailure(error: unknown): void {
    const code = error instanceof SteadError ? error.code : undefined;
    this.#logger.error(error instanceof SteadError ? error.message : describeError(error), {
      ...(code === undefined ? {} : { code }),
    });
    this.#logger.error(
      this.#current === undefined
        ? "Waiting for a file change to start the app."
        : "The app keeps running the last good build; waiting for a file change.",
    );
  }
}

/** A port that is free on `host` right now. */
async function freePort(host: string): Promise<number> {
  const server = createServer();
  server.listen(0, host);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}
