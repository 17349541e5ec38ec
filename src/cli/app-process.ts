import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { siblingModule } from "../core/sibling-module.ts";
import type { Logger } from "./logger.ts";
import type { ServerOptions } from "./options.ts";

const MAIN = fileURLToPath(siblingModule("main", import.meta.url));

/**
 * The process `stead dev` serves the app in (`stead __serve --prebuilt <bundle>`): it reads the
 * config itself and imports the bundle `stead dev` built, as it is. A new process per code update
 * is what resets objects (sockets close with 1012) while their data stays.
 */
export class AppProcess {
  readonly #options: ServerOptions;
  readonly #logger: Logger;
  #child: ChildProcess | undefined;
  #stopping = false;

  constructor(options: ServerOptions, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
  }

  /** Stops the running process, if any (waiting for it to exit), then serves the bundle at `url`. */
  async run(url: string): Promise<void> {
    await this.#end("SIGTERM");
    if (this.#stopping) return;
    const { storage, feed } = this.#options;
    const child = spawn(process.execPath, [...process.execArgv, MAIN, ...this.#args(url)], {
      // The IPC channel closes when this process dies, however it dies: the child then exits too.
      stdio: ["inherit", "inherit", "inherit", "ipc"],
      // The storage URL goes by the environment, not argv, where `ps` would show its password;
      // so do the feed's sinks and the queues' URL.
      env: {
        ...process.env,
        ...(storage === undefined ? {} : { STEAD_STORAGE_URL: storage }),
        ...(this.#options.queues === undefined ? {} : { STEAD_QUEUES_URL: this.#options.queues }),
        ...(feed === undefined
          ? {}
          : { STEAD_FEED_CLASSES: feed.classes.join(","), STEAD_FEED_SINKS: feed.sinks.join(" ") }),
      },
    });
    this.#child = child;
    child.on("exit", (code, signal) => {
      if (this.#child === child) this.#child = undefined;
      if (!this.#stopping && signal === null && code !== 0)
        this.#logger.error("The app stopped; waiting for a file change to restart it.");
    });
  }

  /** Passes `signal` on to the running process and waits for it to exit. */
  async stop(signal: NodeJS.Signals): Promise<void> {
    this.#stopping = true;
    await this.#end(signal);
  }

  async #end(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    await exited;
  }

  #args(url: string): string[] {
    const options = this.#options;
    return [
      "__serve",
      options.dir,
      "--prebuilt",
      url,
      "--port",
      String(options.port),
      "--host",
      options.host,
      "--data-dir",
      options.dataDir,
      "--log-format",
      options.logFormat,
      "--shutdown-timeout",
      String(Math.min(options.shutdownTimeoutMs, 5000)),
      "--hibernate-after",
      String(options.hibernateAfterMs),
      ...(options.cfLocationHeaders ? ["--cf-location-headers"] : []),
      ...(options.maxOpenDatabases === undefined
        ? []
        : ["--max-open-databases", String(options.maxOpenDatabases)]),
      ...(options.historyRetentionDays === undefined
        ? []
        : ["--history-retention-days", String(options.historyRetentionDays)]),
      ...(options.durability === undefined ? [] : ["--durability", options.durability]),
      ...(options.maxConnections === undefined
        ? []
        : ["--max-connections", String(options.maxConnections)]),
      ...(options.env === undefined ? [] : ["--env", options.env]),
      ...(options.main === undefined ? [] : ["--main", options.main]),
      "--threads",
      String(options.threads),
    ];
  }
}
