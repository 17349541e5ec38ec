import { loadAppConfig } from "../config/index.ts";
import { DataDirLock } from "../drivers/local/data-dir-lock.ts";
import { exposureWarning } from "../drivers/local/private-files.ts";
import { createRuntime, type Runtime } from "../embedded/create-runtime.ts";
import { type SteadServer, serve } from "../server/serve.ts";
import { handleWebSocketUpgrade } from "../server/websocket-upgrade.ts";
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
 */
export async function runServer(options: ServerOptions, logger: Logger): Promise<RunningServer> {
  const lock = DataDirLock.acquire(options.dataDir);
  try {
    return await serveLocked(options, logger, lock);
  } catch (error) {
    lock.release();
    throw error;
  }
}

async function serveLocked(
  options: ServerOptions,
  logger: Logger,
  lock: DataDirLock,
): Promise<RunningServer> {
  const exposed = exposureWarning(options.dataDir);
  if (exposed !== undefined) logger.warn(exposed, { dataDir: options.dataDir });
  const config = await loadAppConfig(options.dir, { dev: options.dev, env: options.env });
  const runtime = await createRuntime({
    ...config.runtimeOptions,
    dataDir: options.dataDir,
    dataDirLock: lock,
    maxOpenDatabases: options.maxOpenDatabases,
    objects: { hibernateAfterMs: options.hibernateAfterMs },
    onError: (error, context) =>
      logger.error(`error in ${context}`, {
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      }),
  });
  let server: SteadServer;
  try {
    server = await serve(runtime, {
      port: options.port,
      host: options.host,
      log: (record) => logger.request(record),
      upgrade: (request, socket, head, closing) =>
        handleWebSocketUpgrade(runtime, request, socket, head, {
          closing,
          onError: (error) => logger.error("WebSocket upgrade failed", { error: String(error) }),
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
        await server.close({ deadlineMs: options.shutdownTimeoutMs });
        await runtime.dispose();
        lock.release();
        logger.info("Stopped");
      })();
      return stopping;
    },
  };
}

/** `stead start`: serve until SIGTERM or SIGINT, then shut down gracefully. */
export async function startCommand(options: ServerOptions): Promise<void> {
  const logger = createLogger(options.logFormat);
  const running = await runServer(options, logger);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.error(`Second ${signal}: exiting without waiting for in-flight work`);
      process.exit(1);
    }
    running.shutdown(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error("Shutdown failed", { error: String(error) });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // Run by `stead dev`: stop when the supervising process goes away.
  if (process.send !== undefined) process.once("disconnect", () => onSignal("SIGTERM"));
}
