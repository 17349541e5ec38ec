// The storage the runtime suites run on, chosen by STEAD_TEST_STORAGE: "local" (the default: the
// local driver on a temporary data directory) or "postgres" (`createRuntime({ storage })` on the
// database STEAD_TEST_POSTGRES_URL names, a fresh schema per store; scripts/test-postgres.sh sets
// both). Every runtime the suites create takes its storage from here; a test that needs more than
// the storage API every driver gives declares it with `skipUnless`, so the same suites run on
// every driver and a skip says why.
//
// Schemas are not dropped one by one (a store made by storageOptions() has no owner to drop it):
// scripts/test-postgres.sh drops the whole database after the run. Run single files through it
// too: `bash scripts/test-postgres.sh node --conditions=stead-source --import ./src/register.ts
// --test FILE`.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { tempDataDir } from "./temp-dir.ts";

/** What a test may rely on beyond the storage API every driver gives. Declared, never sniffed. */
export interface StorageCapabilities {
  /** Point-in-time recovery: objects keep their database history (bookmarks, DatabaseHistory). */
  readonly history: boolean;
  /** The durable state is the files in dataDir, which a test may read, count or damage. */
  readonly localFiles: boolean;
  /** The local driver's `beforeFlush` hook, through which durability-harness.ts holds flushes. */
  readonly flushHooks: boolean;
  /** Objects on object threads (`threads` > 0, `stead start --threads`). */
  readonly threads: boolean;
}

export type StorageName = "local" | "postgres";

const CAPABILITIES: Record<StorageName, StorageCapabilities> = {
  local: { history: true, localFiles: true, flushHooks: true, threads: true },
  // Durable state is log rows in PostgreSQL; dataDir holds working copies the driver may rebuild.
  // History is log rows kept for the retention window; it has no flush hook (a test controls no
  // PostgreSQL write).
  postgres: { history: true, localFiles: false, flushHooks: false, threads: true },
};

function chosen(): StorageName {
  const name = process.env.STEAD_TEST_STORAGE || "local";
  if (name === "local" || name === "postgres") return name;
  throw new Error(`STEAD_TEST_STORAGE must be "local" or "postgres", got ${JSON.stringify(name)}.`);
}

const NAME = chosen();

/** The storage under test and what it can do. */
export const TEST_STORAGE: {
  readonly name: StorageName;
  readonly capabilities: StorageCapabilities;
} = Object.freeze({ name: NAME, capabilities: Object.freeze(CAPABILITIES[NAME]) });

/** The database the PostgreSQL stores live in (checked once, so a bad setting fails every file). */
const POSTGRES_URL = NAME === "postgres" ? postgresUrl() : undefined;

function postgresUrl(): string {
  const url = process.env.STEAD_TEST_POSTGRES_URL;
  if (!url?.startsWith("postgres://") && !url?.startsWith("postgresql://")) {
    throw new Error(
      `STEAD_TEST_STORAGE=postgres needs STEAD_TEST_POSTGRES_URL, a URL like postgres://postgres@127.0.0.1:5432/stead_test (npm run test:postgres sets both), got ${JSON.stringify(url)}.`,
    );
  }
  return url;
}

/** createRuntime options naming the storage; local: none. */
export interface StorageOptions {
  storage?: string;
}

/**
 * The storage options of a new, empty store: `{}` on the local driver (each runtime's data
 * directory is its store), `{ storage }` with a schema of its own on PostgreSQL. A test that
 * restarts a runtime gives every runtime the same options (see `testStore`).
 */
export function storageOptions(): StorageOptions {
  if (POSTGRES_URL === undefined) return {};
  const url = new URL(POSTGRES_URL);
  url.searchParams.set("schema", `t_${randomBytes(8).toString("hex")}`);
  return { storage: url.href };
}

/**
 * The environment that points a child process at `options`' storage: `stead start` reads
 * STEAD_STORAGE_URL, and so do the test's own child processes (test/fixtures/*-child.ts). On
 * the local driver it unsets a STEAD_STORAGE_URL this process may have inherited.
 */
export function storageEnv(options: StorageOptions): NodeJS.ProcessEnv {
  return { STEAD_STORAGE_URL: options.storage };
}

/** In a child process a test started with `storageEnv`: the storage options it was given. */
export function inheritedStorage(): StorageOptions {
  const storage = process.env.STEAD_STORAGE_URL;
  return storage ? { storage } : {};
}

/** createRuntime options of a store: its data directory and its storage. */
export interface StoreOptions extends StorageOptions {
  dataDir: string;
}

/** A fresh store that outlives one runtime: every runtime given `options` sees the same objects. */
export interface TestStore extends Disposable {
  /** The data directory: the object databases on the local driver, working copies otherwise. */
  readonly dataDir: string;
  /** What createRuntime needs to open this store; spread it into the options. */
  readonly options: StoreOptions;
  /** What a `stead start` or child process on `dataDir` needs to open this store. */
  readonly env: NodeJS.ProcessEnv;
}

/**
 * A fresh store on a temporary data directory, removed when disposed:
 * `using store = testStore(); await createRuntime({ main, ...store.options })`.
 */
export function testStore(prefix = "stead-test-"): TestStore {
  const dir = tempDataDir(prefix);
  const options: StoreOptions = { dataDir: dir.path, ...storageOptions() };
  return {
    dataDir: dir.path,
    options,
    env: storageEnv(options),
    [Symbol.dispose]() {
      dir[Symbol.dispose]();
    },
  };
}

/**
 * A test's `skip` option: false when the storage under test has `capability`, else the reason,
 * which says what the test does that needs it.
 *
 * @example
 * it("restores a bookmark", { skip: skipUnless("history", "restores a bookmark") }, async () => {});
 */
export function skipUnless(capability: keyof StorageCapabilities, needs: string): false | string {
  return TEST_STORAGE.capabilities[capability]
    ? false
    : `${TEST_STORAGE.name} storage has no ${capability}: this test ${needs}`;
}

/**
 * A `skip` option for tests that pick their storage themselves (a cluster always runs on
 * PostgreSQL): they run in the local pass of `npm run check`, and are skipped in the PostgreSQL
 * pass, which would only run them again.
 */
export function oncePerCheck(): false | string {
  return TEST_STORAGE.name === "local"
    ? false
    : "chooses its own storage (PostgreSQL): it ran in the local pass already";
}

/**
 * The database the PostgreSQL driver's own tests use, whichever storage the suites run on: the
 * run's database under `npm run test:postgres`, else `test` on the local PostgreSQL (which
 * scripts/ensure-postgres.sh makes sure of).
 */
export const POSTGRES_TEST_URL =
  process.env.STEAD_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A PostgreSQL schema of its own for one test: `url` names it; dropped, with its tables, on dispose. */
export interface TempSchema extends AsyncDisposable {
  readonly name: string;
  readonly url: string;
}

export function tempSchema(prefix = "t"): TempSchema {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  const url = new URL(POSTGRES_TEST_URL);
  url.searchParams.set("schema", name);
  return {
    name,
    url: url.href,
    async [Symbol.asyncDispose]() {
      await postgresQuery(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
    },
  };
}

/** Runs one statement on the PostgreSQL test database, on a connection of its own. */
export async function postgresQuery(text: string, params: unknown[] = []): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
  await client.connect();
  try {
    return (await client.query(text, params)).rows;
  } finally {
    await client.end();
  }
}
