// Where a runtime keeps its objects: the caller's driver, or the local driver on a data directory
// (a temporary one, removed on dispose, when none is given).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LeaseDeadline } from "../cluster/lease-deadline.ts";
import { systemClock } from "../core/clock.ts";
import { SteadError } from "../core/errors.ts";
import { formatOptionProblems } from "../core/invalid-options.ts";
import type { ClusterStore } from "../core/storage/cluster-store.ts";
import type { StorageDriver } from "../core/storage/driver.ts";
import { LocalDriver } from "../drivers/local/local-driver.ts";
import { PostgresDriver } from "../drivers/postgres/postgres-driver.ts";
import { nowUs } from "../threads/shard-protocol.ts";
import type { ResolvedRuntimeOptions } from "./runtime-options.ts";

/** How long a cluster node's claims last without a heartbeat, by default (ms). */
export const DEFAULT_LEASE_MS = 4_000;

/** The storage driver, and the temporary directory it owns when no data directory was given. */
export interface Store {
  readonly driver: StorageDriver;
  readonly dataDir: string | undefined;
  /** Closes the driver (a caller's too) and removes the temporary directory. */
  close(): Promise<void>;
  /** Start-up failed: closes what the runtime opened itself; a caller's driver stays open. */
  abort(): Promise<void>;
  /** This process as a cluster node (the `cluster` option), registered in the storage. */
  readonly cluster?: StoreCluster;
}

/** A cluster node's registration and the flag that says whether it may serve objects. */
export interface StoreCluster {
  readonly store: ClusterStore;
  /** Until when the node may serve (kept by its lease; object threads read it too). */
  readonly deadline: LeaseDeadline;
  /** `nowUs()` just before the node registered: its first lease starts no earlier. */
  readonly joinedAt: bigint;
}

/**
 * The driver `config` asks for: the caller's; PostgreSQL for a `storage` URL; or the local
 * driver. The last two on `dataDir`, or a temporary directory.
 */
export async function openStore(config: ResolvedRuntimeOptions): Promise<Store> {
  if (config.cluster !== undefined && config.storage === undefined) {
    throw new SteadError(
      "INVALID_CONFIG",
      formatOptionProblems("createRuntime()", [
        "cluster: needs storage, the PostgreSQL URL every node of the cluster shares.",
      ]),
    );
  }
  if (config.storage !== undefined && config.driver !== undefined) {
    throw new SteadError(
      "INVALID_CONFIG",
      formatOptionProblems("createRuntime()", [
        "storage: a driver was given too; pass one of storage and driver.",
      ]),
    );
  }
  if (config.driver !== undefined && config.maxOpenDatabases !== undefined) {
    throw new SteadError(
      "INVALID_CONFIG",
      formatOptionProblems("createRuntime()", [
        "maxOpenDatabases: applies to the default local driver only; pass it to your driver instead, e.g. new LocalDriver({ dataDir, maxOpenDatabases }).",
      ]),
    );
  }
  const durability = config.durability ?? config.journalSegmentBytes;
  if (durability !== undefined && (config.driver !== undefined || config.storage !== undefined)) {
    const option = config.durability !== undefined ? "durability" : "journalSegmentBytes";
    throw new SteadError(
      "INVALID_CONFIG",
      formatOptionProblems("createRuntime()", [
        `${option}: applies to the default local driver only (${config.storage !== undefined ? "with storage, PostgreSQL makes commits durable" : `pass it to your driver instead, e.g. new LocalDriver({ dataDir, ${option} })`}).`,
      ]),
    );
  }
  if (
    config.dataDirLock !== undefined &&
    (config.driver !== undefined || config.dataDir === undefined)
  ) {
    throw new SteadError(
      "INVALID_CONFIG",
      formatOptionProblems("createRuntime()", [
        `dataDirLock: ${config.driver !== undefined ? "applies to the default local driver only; pass it to your driver instead, e.g. new LocalDriver({ dataDir, lock })" : "needs dataDir, the directory it locks"}.`,
      ]),
    );
  }
  if (config.driver !== undefined) {
    const driver = config.driver;
    return { driver, dataDir: config.dataDir, close: () => driver.close(), abort: async () => {} };
  }
  const temporaryDir =
    config.dataDir === undefined ? mkdtempSync(join(tmpdir(), "stead-")) : undefined;
  const dataDir = config.dataDir ?? temporaryDir!;
  const removeTemporary = () => {
    if (temporaryDir !== undefined) rmSync(temporaryDir, { recursive: true, force: true });
  };
  let driver: StorageDriver;
  const deadline = new LeaseDeadline();
  const joinedAt = nowUs();
  const cluster = config.cluster;
  try {
    driver =
      config.storage === undefined
        ? defaultDriver(dataDir, config)
        : await PostgresDriver.connect({
            url: config.storage,
            dataDir,
            lock: config.dataDirLock,
            maxOpenDatabases: config.maxOpenDatabases,
            // With object threads, each thread has its own connections; this thread's serve the
            // control store and the alarm scheduler only.
            ...((config.threads ?? 0) > 0 ? { maxConnections: 2 } : {}),
            ...(cluster === undefined
              ? {}
              : {
                  cluster: {
                    node: cluster.nodeId,
                    address: cluster.advertise,
                    leaseMs: cluster.leaseMs ?? DEFAULT_LEASE_MS,
                    serving: () => deadline.serving,
                  },
                }),
            ...historyOptions(config),
            onRetry: (error, delayMs) =>
              config.onError?.(error, `connecting to PostgreSQL (retrying in ${delayMs} ms)`),
          }).catch((error: unknown) => {
            if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
            throw new SteadError(
              "INVALID_CONFIG",
              formatOptionProblems("createRuntime()", [`storage: ${error.message}`]),
            );
          });
  } catch (error) {
    removeTemporary();
    throw error;
  }
  const close = async () => {
    await driver.close();
    removeTemporary();
  };
  return {
    driver,
    dataDir,
    close,
    abort: () => close().catch(() => {}),
    ...(driver.cluster === undefined
      ? {}
      : { cluster: { store: driver.cluster, deadline, joinedAt } }),
  };
}

/** The local driver's durability options: `durability` and `journalSegmentBytes`. */
export function durabilityOptions(config: ResolvedRuntimeOptions): {
  durability?: "journal" | "wal";
  journalSegmentBytes?: number;
} {
  return {
    ...(config.durability === undefined ? {} : { durability: config.durability }),
    ...(config.journalSegmentBytes === undefined
      ? {}
      : { journalSegmentBytes: config.journalSegmentBytes }),
  };
}

/** The local driver's history options from `historyRetentionDays` and the runtime's clock. */
export function historyOptions(config: ResolvedRuntimeOptions): {
  historyRetentionMs?: number;
  now: () => number;
} {
  const clock = config.clock ?? systemClock;
  const days = config.historyRetentionDays;
  return {
    ...(days === undefined ? {} : { historyRetentionMs: days * 24 * 60 * 60 * 1000 }),
    now: () => clock.now(),
  };
}

/** The local driver on `dataDir`; a limit or lock it refuses is a configuration error. */
function defaultDriver(dataDir: string, config: ResolvedRuntimeOptions): LocalDriver {
  let driver: LocalDriver;
  try {
    driver = new LocalDriver({
      dataDir,
      maxOpenDatabases: config.maxOpenDatabases,
      ...historyOptions(config),
      ...durabilityOptions(config),
      lock: config.dataDirLock,
      sharedControl: (config.threads ?? 0) > 0,
    });
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new SteadError(
      "INVALID_CONFIG",
      formatOptionProblems("createRuntime()", [error.message]),
    );
  }
  const replay = driver.journalReplay;
  if (replay !== undefined && replay.segments > 0) {
    config.onNotice?.("journal replayed", {
      records: replay.records,
      objects: replay.objects,
      bytes: replay.bytes,
      ms: Math.round(replay.ms * 10) / 10,
    });
  }
  return driver;
}
