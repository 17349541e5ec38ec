#!/usr/bin/env node
import { Command, Option } from "commander";
import { describeError } from "../core/error-text.ts";
import { SteadError } from "../core/errors.ts";
import { backupCommand, backupVerifyCommand, restoreCommand } from "./backup.ts";
import { type ClusterStatusFlags, clusterDrainCommand, clusterStatusCommand } from "./cluster.ts";
import {
  type D1Flags,
  d1MigrationsApplyCommand,
  d1MigrationsCreateCommand,
  d1MigrationsListCommand,
} from "./d1.ts";
import { devCommand } from "./dev.ts";
import { initCommand } from "./init.ts";
import {
  deadLettersCommand,
  type ObjectsFlags,
  objectsDeleteCommand,
  objectsInspectCommand,
  objectsListCommand,
  objectsSqlCommand,
} from "./objects.ts";
import { objectsExportCommand, objectsImportCommand } from "./objects-transfer.ts";
import { resolveServerOptions, type ServerFlags, UsageError } from "./options.ts";
import { startCommand } from "./start.ts";
import { DEFAULT_TEMPLATE, listTemplates } from "./templates.ts";

const ENVIRONMENT = `
Environment variables (flags win over them):
  STEAD_PORT               port to listen on
  STEAD_HOST               address to listen on
  STEAD_DATA_DIR           where object databases and the alarm index live
  STEAD_LOG_FORMAT         "json" (one JSON line per request) or "pretty"
  STEAD_SHUTDOWN_TIMEOUT   ms in-flight work may take to finish on SIGTERM/SIGINT
  STEAD_HIBERNATE_AFTER    ms idle before an object with only hibernatable WebSockets hibernates
  STEAD_MAX_OPEN_DATABASES object databases kept open at once (each about 190 KB)
  STEAD_ADMIN_PORT         port of the admin API (--admin-port); STEAD_ADMIN_HOST its address
  STEAD_ADMIN_TOKEN        bearer token of the admin API, read-write (16+ characters)
  STEAD_ADMIN_READ_TOKEN   bearer token of the admin API that only reads
  STEAD_MAX_CONNECTIONS    connections held open at once; more are answered 503
  STEAD_CF_LOCATION_HEADERS  1: request.cf's location from a proxy's CF-IPCountry, CF-IPCity, ... headers
  STEAD_ENV                the wrangler environment ([env.<name>]) to use
  STEAD_THREADS            object threads (0: objects on the main thread; default: one per core)
  STEAD_STORAGE_URL        PostgreSQL URL where objects are durable (default: the data directory)
  STEAD_HISTORY_RETENTION_DAYS  days of object history kept for point-in-time recovery (0: none)
  STEAD_DURABILITY         "journal" (one node journal, group commit; default) or "wal" (--durability)
  STEAD_JOURNAL_SEGMENT_BYTES  size past which a journal segment is retired (default 67108864)
  STEAD_QUEUES_URL         NATS URL where queues live (--queues; default: the data directory)
  STEAD_CLUSTER_URL        PostgreSQL URL of the cluster this node joins (stead start --cluster)
  STEAD_CLUSTER_NODE_ID    this node's id in the cluster (default: the host name)
  STEAD_CLUSTER_ADVERTISE  host:port other nodes reach this one at; it listens there for them
  STEAD_CLUSTER_LISTEN     host:port to listen on for other nodes (default: the advertised one)
  STEAD_CLUSTER_SECRET     shared by every node (16+ characters); required in a cluster
  STEAD_CLUSTER_LEASE_MS   how long a node's objects stay its own without a heartbeat (default 4000)
  STEAD_FEED_CLASSES       classes whose commits the change feed ships (--feed-classes), e.g. "Cart,Order"
  STEAD_FEED_SINKS         where to, space- or comma-separated postgres:// and nats:// URLs (--feed)
  STEAD_CONFIRM_DELETE     migration tags whose deleted_classes may delete data, e.g. "v3"`;

function serverCommand(name: string, description: string, dev: boolean): Command {
  return new Command(name)
    .description(description)
    .argument(
      "[path]",
      "app directory with wrangler.jsonc, wrangler.json or wrangler.toml; or the entry module (its config is the nearest one above it, else the one in the current directory)",
      ".",
    )
    .option(
      "--main <entry>",
      "the Worker's entry module, instead of the config's main (relative to the current directory)",
    )
    .option("-p, --port <port>", "port to listen on (default: 8787)")
    .option("--host <host>", `address to listen on (default: ${dev ? "127.0.0.1" : "0.0.0.0"})`)
    .option(
      "--data-dir <path>",
      "where object databases live; one process at a time, created mode 0700 (default: <dir>/.stead)",
    )
    .addOption(
      new Option(
        "--log-format <format>",
        `log format (default: ${dev ? "pretty" : "json"})`,
      ).choices(["json", "pretty"]),
    )
    .option(
      "--shutdown-timeout <ms>",
      "how long in-flight work may finish on shutdown (default: 30000)",
    )
    .option("-e, --env <name>", "use the wrangler environment [env.<name>]")
    .option(
      "--hibernate-after <ms>",
      "idle ms before an object holding only hibernatable WebSockets leaves memory (default: 10000)",
    )
    .option(
      "--max-open-databases <n>",
      "object databases kept open at once, three files each; objects opened once close soon (default: 2000, or fewer under a low ulimit -n)",
    )
    .option(
      "--max-connections <n>",
      "connections held open at once, WebSockets included; more are answered 503 and closed (default: a quarter of ulimit -n, less if the databases leave less)",
    )
    .option(
      "--cf-location-headers",
      "fill request.cf's country, city, latitude, longitude, region, timezone and colo from the visitor location headers a proxy in front sets (CF-IPCountry, CF-IPCity, CF-IPLatitude, ..., CF-Ray), as Cloudflare's proxy sends them; only behind a proxy that sets or removes them",
    )
    .option(
      "--history-retention-days <days>",
      "days each object's database history is kept for point-in-time recovery (0: none; default: 30)",
    )
    .option(
      "--durability <mode>",
      "how the local data directory makes commits durable: journal (one node journal, group commit across objects) or wal (an fdatasync of each object's WAL) (default: journal)",
    )
    .option(
      "--storage <url>",
      "keep objects durable in PostgreSQL (postgres://user:password@host:5432/db, ?schema=NAME; default schema stead): the data directory then holds only working copies, rebuilt when missing",
    )
    .option(
      "--queues <url>",
      "keep queues in NATS JetStream (nats://host:4222, ?prefix=NAME; default prefix stead) instead of <data-dir>/queues.sqlite",
    )
    .option(
      "--admin-port <port>",
      "serve the admin API (stead objects, dead letters, /metrics) on this port (0: any free one); off by default",
    )
    .option(
      "--admin-host <host>",
      "where the admin API listens (default: 127.0.0.1; any other address needs STEAD_ADMIN_TOKEN)",
    )
    .option(
      "--feed-classes <classes>",
      "ship every commit of these Durable Object classes (comma-separated) to the --feed sinks: SQL row changes and KV puts and deletes (docs/change-feed.md)",
    )
    .option(
      "--feed <url>",
      "a change feed sink, repeatable: postgres://user@host:5432/db (?schema=, default stead_feed: a projection per object table) or nats://host:4222 (JetStream, ?prefix= default stead.feed, ?stream= default STEAD_FEED)",
      (url: string, urls: string[] = []) => [...urls, url],
    )
    .option(
      "--threads <n>",
      "object threads: objects are spread over them by id, and an event past limits.cpu_ms stops only its own thread (0: objects on the main thread, no CPU limit; default: one per core, 0 on a single core)",
    )
    .addHelpText("after", ENVIRONMENT);
}

const program = new Command("stead")
  .description("Run Cloudflare Worker + Durable Object apps on your own machines.")
  .showHelpAfterError()
  .addHelpText(
    "after",
    `${ENVIRONMENT}\n\nExamples:\n  stead init my-app --template chat\n  stead dev my-app\n  stead dev src/index.ts\n  stead start . --port 8080 --data-dir /var/lib/app`,
  );

program.addCommand(
  new Command("init")
    .description("scaffold a runnable app from a template: config, code, tests, README")
    .argument("[dir]", "where the app goes; created if missing, must not hold its files", ".")
    .option("-t, --template <name>", "the app to start from", DEFAULT_TEMPLATE)
    .addHelpText(
      "after",
      () =>
        `\nTemplates:\n${listTemplates()
          .map((t) => `  ${t.name.padEnd(24)}${t.description}`)
          .join("\n")}\n\nExample:\n  stead init my-app --template chat`,
    )
    .action((dir: string, flags: { template: string }) =>
      initCommand({ dir, template: flags.template }, (line) => process.stdout.write(`${line}\n`)),
    ),
);
program.addCommand(
  serverCommand(
    "dev",
    "serve the app for development: reload on file change, data under <dir>/.stead",
    true,
  ).action((dir: string, flags: ServerFlags) =>
    devCommand(resolveServerOptions(dir, flags, { dev: true })),
  ),
);
program.addCommand(
  serverCommand(
    "start",
    "serve the app in production: no watching, structured logs, graceful shutdown",
    false,
  )
    .option(
      "--cluster <url>",
      "join a cluster of Stead nodes sharing this PostgreSQL URL (it is the storage too); needs STEAD_CLUSTER_SECRET and --advertise",
    )
    .option("--node-id <id>", "this node's id in the cluster, unique (default: the host name)")
    .option(
      "--advertise <host:port>",
      "where other cluster nodes reach this one; it listens there for forwarded calls",
    )
    .option(
      "--cluster-listen <host:port>",
      "where to listen for other nodes, when not the advertised address (port mapping, proxy)",
    )
    .action((dir: string, flags: ServerFlags) =>
      startCommand(resolveServerOptions(dir, flags, { dev: false })),
    ),
);
program.addCommand(
  new Command("cluster")
    .description("look after a cluster of Stead nodes")
    .addCommand(
      new Command("status")
        .description("the nodes of the cluster: address, lease, heartbeat age, objects held")
        .option("--cluster <url>", "the cluster's PostgreSQL URL (default: STEAD_CLUSTER_URL)")
        .option("--json", "print JSON")
        .action((flags: ClusterStatusFlags) =>
          clusterStatusCommand(flags, (text) => process.stdout.write(text)),
        ),
    )
    .addCommand(
      new Command("drain")
        .description(
          "ask a node to hand its objects over to the others and stop (as SIGTERM does, from anywhere)",
        )
        .argument("<node>", "the node's id (--node-id)")
        .option("--cluster <url>", "the cluster's PostgreSQL URL (default: STEAD_CLUSTER_URL)")
        .action((node: string, flags: ClusterStatusFlags) =>
          clusterDrainCommand(node, flags, (text) => process.stdout.write(text)),
        ),
    ),
);
/** Options of the `stead d1` commands: where the app's data is, as for `stead start`. */
function d1Options(command: Command): Command {
  return command
    .option("-e, --env <name>", "use the wrangler environment [env.<name>]")
    .option(
      "--data-dir <path>",
      "the app's data directory (default: STEAD_DATA_DIR, or <dir>/.stead)",
    )
    .option(
      "--storage <url>",
      "the PostgreSQL URL the app's objects are stored in, as given to stead start (default: STEAD_STORAGE_URL)",
    );
}
const write = (text: string) => process.stdout.write(text);
const note = (text: string) => process.stderr.write(text);
program.addCommand(
  new Command("d1")
    .description("look after the app's D1 databases (d1_databases in its wrangler config)")
    .addCommand(
      new Command("migrations")
        .description(
          "wrangler's numbered .sql migrations in migrations_dir, recorded in migrations_table",
        )
        .addCommand(
          d1Options(
            new Command("list")
              .description("the migrations of a database not applied yet")
              .argument("<binding>", "the database's binding name, like DB")
              .argument("[dir]", "the app's directory (default: the current directory)"),
          ).action((binding: string, dir: string | undefined, flags: D1Flags) =>
            d1MigrationsListCommand(binding, dir, flags, write),
          ),
        )
        .addCommand(
          d1Options(
            new Command("apply")
              .description(
                "apply the migrations not applied yet, in order, each in one transaction; the server must be stopped (it holds the data directory)",
              )
              .argument("<binding>", "the database's binding name, like DB")
              .argument("[dir]", "the app's directory (default: the current directory)"),
          ).action((binding: string, dir: string | undefined, flags: D1Flags) =>
            d1MigrationsApplyCommand(binding, dir, flags, write),
          ),
        )
        .addCommand(
          d1Options(
            new Command("create")
              .description("add an empty migration file, numbered after the last one")
              .argument("<binding>", "the database's binding name, like DB")
              .argument("<message>", "what the migration does, like add_users")
              .argument("[dir]", "the app's directory (default: the current directory)"),
          ).action((binding: string, message: string, dir: string | undefined, flags: D1Flags) =>
            d1MigrationsCreateCommand(binding, message, dir, flags, write),
          ),
        ),
    ),
);
/** Options of the `stead objects` commands: a server's admin API, or the app's data directory. */
function objectsOptions(command: Command): Command {
  return command
    .option(
      "--url <url>",
      "a running server's admin API, like http://127.0.0.1:8788 (default: STEAD_ADMIN_URL; token from STEAD_ADMIN_TOKEN or STEAD_ADMIN_READ_TOKEN)",
    )
    .option("--dir <path>", "the app's directory (default: the current directory)")
    .option(
      "--data-dir <path>",
      "the data directory, when not <dir>/.stead (default: STEAD_DATA_DIR); a server holding it is reached through the admin API it announced there",
    )
    .option("--json", "print JSON");
}
program.addCommand(
  new Command("objects")
    .description(
      "list and look inside Durable Objects: through a running server's admin API, or on a data directory no server holds",
    )
    .addCommand(
      objectsOptions(
        new Command("list")
          .description("the objects of a class, by id, with their names where known")
          .argument("<class>", "the Durable Object class, like Counter")
          .option("--prefix <name>", "only objects whose name starts with this")
          .option("--limit <n>", "at most this many (default 100, at most 1000)")
          .option("--cursor <id>", "the next page: the cursor the previous one printed"),
      ).action((className: string, flags: ObjectsFlags) =>
        objectsListCommand(className, flags, write),
      ),
    )
    .addCommand(
      objectsOptions(
        new Command("inspect")
          .description(
            "what one object holds: KV keys and sizes, SQL tables and row counts, alarm, WebSockets, size",
          )
          .argument("<class>", "the Durable Object class, like Counter")
          .argument("<object>", "the object's name (idFromName) or 64-hex id"),
      ).action((className: string, object: string, flags: ObjectsFlags) =>
        objectsInspectCommand(className, object, flags, write),
      ),
    )
    .addCommand(
      objectsOptions(
        new Command("sql")
          .description(
            "run SQL in one object, as an event of it (never interleaving with its own work); read-only unless --write",
          )
          .argument("<class>", "the Durable Object class, like Counter")
          .argument("<object>", "the object's name (idFromName) or 64-hex id")
          .argument("<query>", 'the SQL, like "SELECT * FROM messages LIMIT 10"')
          .option("--write", "allow statements that write")
          .option(
            "--param <value...>",
            'values for the query\'s ? parameters, in order (JSON: 42, "text", null; else the text)',
          ),
      ).action((className: string, object: string, query: string, flags: ObjectsFlags) =>
        objectsSqlCommand(className, object, query, flags, write),
      ),
    )
    .addCommand(
      objectsOptions(
        new Command("delete")
          .description("delete one object's storage (every key and table) and its alarm")
          .argument("<class>", "the Durable Object class, like Counter")
          .argument("<object>", "the object's name (idFromName) or 64-hex id")
          .option("--yes", "confirm: the data is gone for good"),
      ).action((className: string, object: string, flags: ObjectsFlags) =>
        objectsDeleteCommand(className, object, flags, write),
      ),
    )
    .addCommand(
      objectsOptions(
        new Command("export")
          .description(
            "write one object, or every object of a class, in Stead's export format (JSON lines); each object copied at a commit boundary",
          )
          .argument("<class>", "the Durable Object class, like Counter")
          .argument(
            "[object]",
            "one object's name (idFromName) or 64-hex id (default: all of them)",
          )
          .option("--out <file>", "write to this file, mode 0600 (default: standard output)"),
      ).action((className: string, object: string | undefined, flags: ObjectsFlags) =>
        objectsExportCommand(className, object, flags, note),
      ),
    )
    .addCommand(
      objectsOptions(
        new Command("import")
          .description(
            "import an export file: every line checked first, then each object in one transaction inside it; stops at the first that fails",
          )
          .argument("<file>", "a file stead objects export wrote")
          .option("--class <class>", "import into this class (default: the one the file names)")
          .option(
            "--replace",
            "replace what objects already hold (default: such an object is refused)",
          ),
      ).action((file: string, flags: ObjectsFlags) => objectsImportCommand(file, flags, note)),
    )
    .addCommand(
      objectsOptions(
        new Command("dead-letters")
          .description(
            "alarms that failed every retry (Cloudflare's policy: 6 retries with backoff); retry an object's once fixed, or discard them",
          )
          .argument("[action]", "retry or discard (default: list them)")
          .argument("[class]", "the object's class, with retry or discard")
          .argument("[object]", "the object's name or id, with retry or discard")
          .option("--yes", "confirm discard: the alarm is dropped for good"),
      ).action(
        (
          action: string | undefined,
          className: string | undefined,
          object: string | undefined,
          flags: ObjectsFlags,
        ) => deadLettersCommand(action, className, object, flags, write),
      ),
    ),
);
program.addCommand(
  objectsOptions(
    new Command("backup")
      .description(
        "copy every object (each at a commit boundary, no object held longer than one copy) with the namespaces' id keys, migrations and dead letters into a new directory, with a manifest of SHA-256 checksums",
      )
      .argument("<dest>", "a new or empty directory")
      .option("--concurrency <n>", "objects copied at once (default: 4)"),
  )
    .action((dest: string, flags: ObjectsFlags) => backupCommand(dest, flags, note))
    .addCommand(
      new Command("verify")
        .description(
          "check a backup: every file there and matching its SHA-256, every database passing integrity_check, counts matching the manifest",
        )
        .argument("<dir>", "the backup's directory")
        .action((dir: string) => backupVerifyCommand(dir, write)),
    ),
);
program.addCommand(
  new Command("restore")
    .description(
      "restore a backup into a new or empty data directory no server holds (or a new PostgreSQL schema with --storage)",
    )
    .argument("<src>", "the backup's directory (stead backup)")
    .option("--dir <path>", "the app's directory: its data directory is <dir>/.stead")
    .option("--data-dir <path>", "the data directory to restore into (default: STEAD_DATA_DIR)")
    .option(
      "--storage <url>",
      "restore into PostgreSQL instead: a schema holding no objects (default: STEAD_STORAGE_URL)",
    )
    .option(
      "--force",
      "replace a data directory that holds data; it is kept beside the restored one, renamed",
    )
    .action((src: string, flags: ObjectsFlags & { force?: boolean }) =>
      restoreCommand(src, flags, note),
    ),
);
// The child process of `stead dev`: `start` with development settings.
program.addCommand(
  serverCommand("__serve", "", true)
    .addOption(new Option("--prebuilt <url>", "the bundle stead dev built").hideHelp())
    .action((dir: string, flags: ServerFlags) =>
      startCommand(resolveServerOptions(dir, flags, { dev: true })),
    ),
  { hidden: true },
);

try {
  await program.parseAsync();
} catch (error) {
  process.exitCode = 1;
  if (error instanceof UsageError || error instanceof SteadError) {
    process.stderr.write(`stead: ${error.message}\n`);
  } else {
    process.stderr.write(`stead: ${describeError(error)}\n`);
  }
}
