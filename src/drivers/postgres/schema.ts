import type { PgPool } from "./pg-pool.ts";

/**
 * Stead's tables, one migration per version, applied in order. Append new versions; never edit
 * an applied one. `$S` stands for the schema (a validated plain name).
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE $S.objects (
    namespace text NOT NULL,
    id text NOT NULL,
    -- The fencing token: raised by every process that takes the object; a commit carries it.
    epoch bigint NOT NULL DEFAULT 0,
    -- The last committed log row, and the database after it.
    txid bigint NOT NULL DEFAULT 0,
    page_size integer NOT NULL DEFAULT 0,
    db_pages integer NOT NULL DEFAULT 0,
    db_checksum bigint NOT NULL DEFAULT 0,
    -- object_pages holds the database as it was after this log row.
    snap_txid bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, id)
  );
  CREATE TABLE $S.object_log (
    namespace text NOT NULL,
    id text NOT NULL,
    txid bigint NOT NULL,
    epoch bigint NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now(),
    db_pages integer NOT NULL,
    db_checksum bigint NOT NULL,
    body_checksum bigint NOT NULL,
    body bytea NOT NULL,
    PRIMARY KEY (namespace, id, txid)
  );
  CREATE TABLE $S.object_pages (
    namespace text NOT NULL,
    id text NOT NULL,
    pgno integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (namespace, id, pgno)
  );
  CREATE TABLE $S.namespaces (
    class_name text PRIMARY KEY,
    storage_name text NOT NULL UNIQUE,
    unique_key text NOT NULL UNIQUE,
    backend text NOT NULL
  );
  CREATE TABLE $S.applied_migrations (
    seq bigserial PRIMARY KEY,
    tag text NOT NULL UNIQUE
  );
  CREATE TABLE $S.alarms (
    namespace text NOT NULL,
    id text NOT NULL,
    name text,
    time bigint NOT NULL,
    scheduled_time bigint NOT NULL,
    retry_count integer NOT NULL,
    PRIMARY KEY (namespace, id)
  );
  CREATE INDEX alarms_by_time ON $S.alarms (time);
  CREATE TABLE $S.dead_letters (
    seq bigserial PRIMARY KEY,
    namespace text NOT NULL,
    id text NOT NULL,
    name text,
    scheduled_time bigint NOT NULL,
    retry_count integer NOT NULL,
    error text NOT NULL,
    failed_at bigint NOT NULL
  );
  `,
  // 2: due alarms are claimed by one scheduler at a time, for a lease (epoch ms, the claimer's clock).
  `
  ALTER TABLE $S.alarms ADD COLUMN claimed_by text, ADD COLUMN claimed_until bigint;
  `,
  // 3: cluster nodes, and which node (and run of it) holds each object.
  `
  CREATE TABLE $S.nodes (
    node_id text PRIMARY KEY,
    -- Raised each time the node registers: claims of an earlier run are dead.
    incarnation bigint NOT NULL,
    -- Where other nodes reach it (host:port).
    address text NOT NULL,
    -- Set by PostgreSQL's clock; a lease lasts this plus the lease length.
    heartbeat_at timestamptz NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now()
  );
  ALTER TABLE $S.objects ADD COLUMN owner_node text, ADD COLUMN owner_incarnation bigint;
  CREATE INDEX objects_by_owner ON $S.objects (owner_node);
  `,
  // 4: an operator can ask a node to hand its objects over and stop (stead cluster drain).
  `
  ALTER TABLE $S.nodes ADD COLUMN drain boolean NOT NULL DEFAULT false;
  `,
  // 5: history for point-in-time recovery. Log rows are kept for the retention window instead of
  // being deleted by compaction; object_base_pages holds the oldest restorable state.
  `
  -- When the row committed, by the runtime's clock (epoch ms): what retention and
  -- getBookmarkForTime go by. NULL in rows written before version 2 (committed_at then).
  ALTER TABLE $S.object_log ADD COLUMN time bigint;
  CREATE TABLE $S.object_history (
    namespace text NOT NULL,
    id text NOT NULL,
    -- object_base_pages holds the database as it was after this log row: the oldest state that
    -- can be restored. NULL: no history (compaction deleted the rows), until one is started.
    base_txid bigint,
    -- The database's size in pages at base_txid.
    base_db_pages integer NOT NULL DEFAULT 0,
    -- A restore recorded for the object's next start: the log row whose state it brings back.
    restore_txid bigint,
    -- The log row each restore wrote, oldest first: restore n starts generation n of positions.
    generations bigint[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (namespace, id)
  );
  CREATE TABLE $S.object_base_pages (
    namespace text NOT NULL,
    id text NOT NULL,
    pgno integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (namespace, id, pgno)
  );
  -- Objects whose log was never compacted have every row since the empty database.
  INSERT INTO $S.object_history (namespace, id, base_txid)
    SELECT namespace, id, CASE WHEN snap_txid = 0 THEN 0 END FROM $S.objects;
  `,
  // 6: the name each object's id was made from (idFromName), for operators' tools. Written by the
  // claim that makes or takes the row, when the row has none: objects made before this version
  // get theirs at their next claim.
  `
  ALTER TABLE $S.objects ADD COLUMN name text;
  `,
];

/** The schema version this Stead writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** SQLSTATEs of a CREATE ... IF NOT EXISTS that lost a race with another process's (the catalog's unique index, the schema, the table, or its row type). */
const CREATED_MEANWHILE = new Set(["23505", "42P06", "42P07", "42710"]);

/**
 * Creates or upgrades Stead's tables in `schema`, safe when several processes start at once:
 * the version row is locked (`FOR UPDATE`) while migrations run, so one process applies each
 * and the others wait, then see it applied. No advisory locks. Refuses a schema written by a
 * newer Stead.
 */
export async function migrateSchema(pool: PgPool, schema: string): Promise<void> {
  const S = `"${schema}"`;
  await ignoringRace(() => pool.exec(`CREATE SCHEMA IF NOT EXISTS ${S}`));
  await ignoringRace(() =>
    pool.exec(
      `CREATE TABLE IF NOT EXISTS ${S}.stead_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)`,
    ),
  );
  await pool.exec(`INSERT INTO ${S}.stead_schema VALUES (1, 0) ON CONFLICT DO NOTHING`);
  await pool.transaction(async (tx) => {
    const [row] = await tx.query(`SELECT version FROM ${S}.stead_schema WHERE id = 1 FOR UPDATE`);
    const version = Number(row!.version);
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `the schema ${schema} was written by a newer Stead (schema version ${version}; this one knows up to ${SCHEMA_VERSION}). Upgrade Stead, or use another schema.`,
      );
    }
    for (let next = version; next < SCHEMA_VERSION; next++) {
      await tx.exec(MIGRATIONS[next]!.replaceAll("$S", S));
    }
    if (version < SCHEMA_VERSION) {
      await tx.exec(`UPDATE ${S}.stead_schema SET version = ${SCHEMA_VERSION} WHERE id = 1`);
    }
  });
}

async function ignoringRace(run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (!CREATED_MEANWHILE.has((error as { code?: string }).code ?? "")) throw error;
  }
}
