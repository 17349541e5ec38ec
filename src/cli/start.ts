import { loadAppConfig } from "../config/index.ts";
import { describeError } from "../core/error-text.ts";
import { SteadError } from "../core/errors.ts";
import { catchUncaughtErrors } from "../core/uncaught-errors.ts";
import { DataDirLock } from "../drivers/local/data-dir-lock.ts";
import { openFileLimit } from "../drivers/local/open-file-limit.ts";
import { exposureWarning } from "../drivers/local/private-files.ts";
import { createRuntimeWith, type Runtime } from "../embedded/create-runtime.ts";
import { runCustomBuild } from "../loader/custom-build.ts";
import { type SteadServer, serve } from "../server/serve.ts";
import { handleWebSocketUpgrade } from "../server/websocket-upgrade.ts";
import { startAdminListener } from "./admin-listener.ts";
import { maxConnections } from "./descriptor-budget.ts";
import { createLogger, type Logger } from "./logger.ts";
import { type ServerOptions, UsageError } from "./options.ts";

/** A running server: the runtime behind the HTTP front. */
export interface RunningServer {
  readonly runtime: Runtime;
  readonly server: SteadServer;
  /** Stops accepting, lets in-flight work finish up to the deadline, flushes and closes. */
  shutdown(reason: string): Promise<void>;
}

/**
 * Loads the app in `options.dir` and serves it until `shutdown`. The data directory is locked
 * first, so a second server on it stops at once, and stays locked until the runtime is closed.
 * `onStuck` is called when an object thread cannot be stopped (see `OBJECT_THREAD_STUCK`): only
 * a new process can serve its objects again.
 */
export async function runServer(
  options: ServerOptions,
  logger: Logger,
  onStuck: (error: Error) => void = () => {},
): Promise<RunningServer> {
  const lock = DataDirLock.acquire(options.dataDir);
  try {
    return await serveLocked(options, logger, lock, onStuck);
  } catch (error) {
    lock.release();
    throw error;
  }
}

async function serveLocked(
  options: ServerOptions,
  logger: Logger,
  lock: DataDirLock,
  onStuck: (error: Error) => void,
): Promise<RunningServer> {
  const exposed = exposureWarning(options.dataDir);
  if (exposed !== undefined) logger.warn(exposed, { dataDir: options.dataDir });
  if (options.threads === 0) {
    logger.info(
      "Objects run on the main thread (--threads 0): limits.cpu_ms is not enforced, and one runaway event delays every object. Pass --threads <n> to run them on object threads.",
    );
  }
  const config = await loadAppConfig(options.dir, {
    dev: options.dev,
    env: options.env,
    main: options.main,
  });
  if (config.redirectedFrom !== undefined) {
    logger.info(
      `Reading ${config.configPath}, the config the app's build generated (named by ${config.redirectedFrom}), as wrangler deploy does`,
    );
  }
  for (const warning of config.warnings) logger.warn(warning);
  // `stead dev` runs the command itself, before it builds the bundle its app process imports.
  if (config.customBuild !== undefined && options.prebuilt === undefined) {
    logger.info(`Running the custom build: ${config.customBuild.command}`);
    await runCustomBuild(config.customBuild, config.configPath);
  }
  const runtime = await createRuntimeWith(
    {
      ...config.runtimeOptions,
      dataDir: options.dataDir,
      dataDirLock: lock,
      maxOpenDatabases: options.maxOpenDatabases,
      ...(options.historyRetentionDays === undefined
        ? {}
        : { historyRetentionDays: options.historyRetentionDays }),
      threads: options.threads,
      ...(options.durability === undefined ? {} : { durability: options.durability }),
      ...(options.journalSegmentBytes === undefined
        ? {}
        : { journalSegmentBytes: options.journalSegmentBytes }),
      ...(options.storage === undefined ? {} : { storage: options.storage }),
      ...(options.queues === undefined ? {} : { queuesUrl: options.queues }),
      ...(options.feed === undefined ? {} : { feed: options.feed }),
      ...(options.cluster === undefined
        ? {}
        : {
            cluster: {
              nodeId: options.cluster.nodeId,
              advertise: options.cluster.advertise,
              ...(options.cluster.listen === undefined ? {} : { listen: options.cluster.listen }),
              secret: options.cluster.secret,
              // Handled as a SIGTERM: requests finish, objects are handed over, the process ends.
              onDrain: () => {
                logger.info("An operator asked this node to drain (stead cluster drain).");
                process.kill(process.pid, "SIGTERM");
              },
              ...(options.cluster.leaseMs === undefined
                ? {}
                : { leaseMs: options.cluster.leaseMs }),
            },
          }),
      objects: { hibernateAfterMs: options.hibernateAfterMs },
      onConsole: (entry) => logger.app(entry),
      onNotice: (message, fields) => logger.info(message, fields),
      onError: (error, context) => {
        logger.error(`error in ${context}`, {
          error: describeError(error),
        });
        if (error instanceof SteadError && error.code === "OBJECT_THREAD_STUCK") onStuck(error);
      },
    },
    options.prebuilt === undefined ? {} : { prebuilt: options.prebuilt },
  );
  let server: SteadServer;
  try {
    server = await serve(runtime, {
      port: options.port,
      host: options.host,
      maxConnections: maxConnections(
        options.maxConnections,
        options.maxOpenDatabases,
        openFileLimit(),
      ),
      log: (record) => logger.request(record),
      warn: (message) => logger.warn(message),
      cfOverrideHeader: options.dev,
      cfLocationHeaders: options.cfLocationHeaders,
      upgrade: (request, socket, head, closing) =>
        handleWebSocketUpgrade(runtime, request, socket, head, {
          closing,
          cfOverrideHeader: options.dev,
          cfLocationHeaders: options.cfLocationHeaders,
          onError: (error) => logger.error("WebSocket upgrade failed", { error: String(error) }),
          log: (record) => logger.request(record),
          onClose: ({ requestId, path, code, durationMs }) =>
            logger.info("WebSocket closed", {
              requestId,
              path,
              code,
              durationMs: Math.round(durationMs),
            }),
        }),
    });
  } catch (error) {
    await runtime.dispose();
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new UsageError(
        `port ${options.port} on ${options.host} is already in use. Stop the other process, or pass --port <port> (or set STEAD_PORT).`,
      );
    }
    throw error;
  }
  let admin: Awaited<ReturnType<typeof startAdminListener>> | undefined;
  if (options.admin !== undefined) {
    try {
      admin = await startAdminListener(
        runtime,
        server.metrics,
        options.admin,
        options.dataDir,
        logger,
      );
    } catch (error) {
      await server.close({ deadlineMs: 0 });
      await runtime.dispose();
      if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
        throw new UsageError(
          `admin port ${options.admin.port} on ${options.admin.host} is already in use. Pass another --admin-port (or STEAD_ADMIN_PORT).`,
        );
      }
      throw error;
    }
  }
  logger.info(`Stead is serving ${config.name ?? "the app"} on ${server.address.url}`, {
    url: server.address.url,
    config: config.configPath,
    dataDir: options.dataDir,
  });
  let stopping: Promise<void> | undefined;
  return {
    runtime,
    server,
    shutdown(reason) {
      stopping ??= (async () => {
        logger.info(`Shutting down (${reason})`);
        await admin?.close();
        await server.close({ deadlineMs: options.shutdownTimeoutMs });
        await runtime.dispose();
        lock.release();
        logger.info("Stopped");
      })();
      return stopping;
    },
  };
}

/** Time past `--shutdown-timeout` for flushing and closing before the process is ended anyway. */
const SHUTDOWN_GRACE_MS = 5_000;

/**
 * `stead start`: serve until SIGTERM or SIGINT, then shut down gracefully, within
 * `--shutdown-timeout` plus a short grace for closing storage. An object thread that cannot be
 * stopped makes the process shut down and exit non-zero, for its supervisor to start it again.
 */
export async function startCommand(options: ServerOptions): Promise<void> {
  const logger = createLogger(options.logFormat);
  let stuck = false;
  /**
   * A thread stuck in native code never lets `process.exit` finish (Node joins every thread
   * first), so the process then ends itself with SIGKILL; every acknowledged write is already
   * durable, so nothing is lost that a crash would not lose.
   */
  const exit = (code: number) => {
    if (stuck) process.kill(process.pid, "SIGKILL");
    process.exit(code);
  };
  let running: RunningServer | undefined;
  let stopping = false;
  const stop = (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => {
      logger.error(
        `Shutdown did not finish within --shutdown-timeout (${options.shutdownTimeoutMs} ms) and ${SHUTDOWN_GRACE_MS} ms more: exiting without waiting`,
      );
      stuck = true;
      exit(1);
      // Not unref'd: a process whose loop ran dry would exit by itself, and with a stuck thread
      // that exit never finishes.
    }, options.shutdownTimeoutMs + SHUTDOWN_GRACE_MS);
    running!.shutdown(reason).then(
      () => exit(code),
      (error: unknown) => {
        logger.error("Shutdown failed", { error: String(error) });
        exit(1);
      },
    );
  };
  // An app's stray error (a throw in a timer, a rejection nobody handles) is logged with its
  // object, as workerd logs it, and serving goes on; any other ends the process, gracefully.
  catchUncaughtErrors({
    app: (entry) => logger.app(entry),
    own: (error, origin) => {
      logger.error(`Stead stopped: ${origin} outside any object or request`, {
        error: describeError(error),
      });
      if (running === undefined) exit(1);
      else stop(origin, 1);
    },
  });
  running = await runServer(options, logger, () => {
    stuck = true;
    logger.error(
      "An object thread is stuck and cannot be stopped: shutting down so that a supervisor (systemd Restart=, a container restart policy) starts Stead again",
    );
    stop("an object thread is stuck", 70);
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.error(`Second ${signal}: exiting without waiting for in-flight work`);
      exit(1);
    }
    stop(signal, 0);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // Run by `stead dev`: stop when the supervising process goes away.
  if (process.send !== undefined) process.once("disconnect", () => onSignal("SIGTERM"));
}
