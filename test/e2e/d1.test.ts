// D1 as a user meets it: `stead d1 migrations create|list|apply` on an app's wrangler config,
// then `stead start` serving a Worker (and its Durable Objects, on object threads) that use
// `env.DB`. Every command runs on the store under test: the data directory, and PostgreSQL in the
// PostgreSQL pass (STEAD_STORAGE_URL).
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { writeFiles } from "../support/app-files.ts";
import { okJson } from "../support/fetch.ts";
import { runStead, startStead } from "../support/stead-process.ts";
import { TEST_STORAGE, type TestStore, testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const WORKER = new URL("../fixtures/d1-shop-worker.ts", import.meta.url).pathname;

/** The shop's wrangler.jsonc: the Worker, its Cart objects, and `d1_databases` as given. */
function shopConfig(
  databases: Record<string, unknown>[] = [
    { binding: "DB", database_name: "shop", database_id: "8f4b2c1e-shop" },
  ],
): string {
  return JSON.stringify({
    name: "shop",
    main: WORKER,
    compatibility_date: "2026-01-01",
    durable_objects: { bindings: [{ name: "CART", class_name: "Cart" }] },
    migrations: [{ tag: "v1", new_sqlite_classes: ["Cart"] }],
    d1_databases: databases,
  });
}

/**
 * The shop's first migration: a table, an index, a trigger whose body holds statements of its
 * own, and a seed row; `;` inside the trigger and inside a string does not end a statement.
 */
const SCHEMA = `
CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price INTEGER NOT NULL);
CREATE INDEX products_by_name ON products (name);
CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, product_id INTEGER NOT NULL, action TEXT NOT NULL);
-- Every insert is audited; names are trimmed.
CREATE TRIGGER products_audit AFTER INSERT ON products
BEGIN
  INSERT INTO audit (product_id, action) VALUES (NEW.id, 'insert; audited');
  UPDATE products SET name = trim(NEW.name) WHERE id = NEW.id;
END;
INSERT INTO products (name, price) VALUES ('  Tea; green  ', 300);
`;

/** An app directory holding the shop's config and the given files, removed when disposed. */
function shopApp(files: Record<string, string> = {}): { path: string } & Disposable {
  const app = tempDataDir("stead-d1-app-");
  writeFiles(app.path, { "wrangler.jsonc": shopConfig(), ...files });
  return app;
}

/** `stead d1 migrations <args>`, run in the app's directory on `store`. */
function migrations(args: string[], app: string, store: TestStore) {
  return runStead(["d1", "migrations", ...args], { cwd: app, store });
}

/** `stead start` on the app and `store`, objects on an object thread. */
function startShop(app: string, store: TestStore) {
  return startStead("start", [app, "--host", "127.0.0.1", "--threads", "1"], { store });
}

/** The rows (as arrays) of a read-only statement, run by the served Worker through env.DB. */
function query(url: string, sql: string): Promise<unknown[][]> {
  return okJson(`${url}/query`, { method: "POST", body: sql });
}

function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: "POST", body: JSON.stringify(body) });
}

/** Asserts a failed command printed one message, not a stack trace. */
function assertNoStack(stderr: string): void {
  assert.doesNotMatch(stderr, /^\s+at /m, `a message, not a stack trace:\n${stderr}`);
}

describe("D1 through the stead CLI and stead start", () => {
  it("creates, lists and applies a migration, then serves the database to the Worker and its objects across a restart", async () => {
    using store = testStore();
    using app = shopApp();

    const created = await migrations(["create", "DB", "init"], app.path, store);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, `Created ${join("migrations", "0001_init.sql")}\n`);
    const file = join(app.path, "migrations", "0001_init.sql");
    assert.equal(readFileSync(file, "utf8"), "-- Migration number: 0001\n");
    writeFileSync(file, readFileSync(file, "utf8") + SCHEMA);

    const pending = await migrations(["list", "DB"], app.path, store);
    assert.equal(pending.code, 0, pending.stderr);
    assert.equal(pending.stdout, "Migrations to apply to DB, in order:\n  0001_init.sql\n");
    const applied = await migrations(["apply", "DB"], app.path, store);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(applied.stdout, "Applied 0001_init.sql\n1 migration applied to DB.\n");
    const again = await migrations(["apply", "DB"], app.path, store);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, "No migrations to apply to DB.\n");
    const none = await migrations(["list", "DB"], app.path, store);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, "No migrations to apply to DB: all 1 in migrations are applied.\n");

    const seeded = [{ id: 1, name: "Tea; green", price: 300 }];
    let served: unknown;
    {
      await using stead = await startShop(app.path, store);
      assert.deepEqual(await okJson(`${stead.url}/products`), seeded);
      assert.deepEqual(
        await query(
          stead.url,
          "SELECT type, name FROM sqlite_master WHERE name LIKE 'products_%' ORDER BY name",
        ),
        [
          ["trigger", "products_audit"],
          ["index", "products_by_name"],
        ],
      );

      const coffee = await post(`${stead.url}/products`, { name: " Coffee ", price: 250 });
      assert.equal(coffee.status, 200, await coffee.clone().text());
      assert.equal(((await coffee.json()) as { id: number }).id, 2);

      // A batch is one transaction: its last statement sees its inserts; a failing one undoes all.
      assert.deepEqual(
        await okJson(`${stead.url}/batch`, {
          method: "POST",
          body: JSON.stringify([
            { name: "Scone", price: 150 },
            { name: "Jam", price: 90 },
          ]),
        }),
        { count: 4, total: 790 },
      );
      const failed = await post(`${stead.url}/batch`, [
        { name: "Honey", price: 400 },
        { name: "Nothing", price: null },
      ]);
      assert.equal(failed.status, 500, await failed.text());

      // From a Durable Object on an object thread (not the main thread, whose threadId is 0).
      for (const sold of [1, 2]) {
        const sale = await okJson(`${stead.url}/cart/alice`, {
          method: "POST",
          body: JSON.stringify({ name: `Mug ${sold}`, price: 1200 }),
        });
        assert.equal(sale.sold, sold);
        assert.equal(sale.id, 4 + sold);
        assert.ok(sale.threadId > 0, `the Cart ran on thread ${sale.threadId}`);
      }

      served = await okJson(`${stead.url}/products`);
      assert.deepEqual(served, [
        ...seeded,
        { id: 2, name: "Coffee", price: 250 },
        { id: 3, name: "Scone", price: 150 },
        { id: 4, name: "Jam", price: 90 },
        { id: 5, name: "Mug 1", price: 1200 },
        { id: 6, name: "Mug 2", price: 1200 },
      ]);
      assert.deepEqual(
        await query(stead.url, "SELECT product_id, action FROM audit ORDER BY id"),
        [1, 2, 3, 4, 5, 6].map((id) => [id, "insert; audited"]),
      );
      assert.equal((await stead.stop()).code, 0, stead.stderr());
    }

    await using restarted = await startShop(app.path, store);
    assert.deepEqual(await okJson(`${restarted.url}/products`), served);
    assert.deepEqual(await query(restarted.url, "SELECT name FROM d1_migrations"), [
      ["0001_init.sql"],
    ]);
    const sale = await okJson(`${restarted.url}/cart/alice`, {
      method: "POST",
      body: JSON.stringify({ name: "Mug 3", price: 1200 }),
    });
    assert.deepEqual([sale.id, sale.sold], [7, 3]);
  });

  it("applies nothing of a failing migration, names it and SQLite's error, and applies it once fixed", async () => {
    using store = testStore();
    const broken =
      "CREATE TABLE coupons (code TEXT PRIMARY KEY, percent INTEGER NOT NULL);\n" +
      "INSERT INTO coupon (code, percent) VALUES ('WELCOME', 10);\n";
    using app = shopApp({
      "migrations/0001_init.sql": SCHEMA,
      "migrations/0002_broken.sql": broken,
      "migrations/0003_stock.sql":
        "ALTER TABLE products ADD COLUMN stock INTEGER NOT NULL DEFAULT 0;\n",
    });

    const failed = await migrations(["apply", "DB"], app.path, store);
    assert.equal(failed.code, 1, failed.stdout);
    assert.equal(failed.stdout, "Applied 0001_init.sql\n");
    assert.match(failed.stderr, /^stead: Migration 0002_broken\.sql failed/);
    assert.match(failed.stderr, /no such table: coupon\b/);
    assert.match(failed.stderr, /applied before it: 0001_init\.sql/);
    assertNoStack(failed.stderr);
    const pending = await migrations(["list", "DB"], app.path, store);
    assert.equal(
      pending.stdout,
      "Migrations to apply to DB, in order:\n  0002_broken.sql\n  0003_stock.sql\n",
    );

    {
      await using stead = await startShop(app.path, store);
      assert.deepEqual(
        await query(stead.url, "SELECT name FROM sqlite_master WHERE name = 'coupons'"),
        [],
      );
      assert.deepEqual(await query(stead.url, "SELECT name FROM d1_migrations"), [
        ["0001_init.sql"],
      ]);
      assert.equal((await stead.stop()).code, 0, stead.stderr());
    }

    writeFileSync(
      join(app.path, "migrations", "0002_broken.sql"),
      broken.replace("coupon ", "coupons "),
    );
    const fixed = await migrations(["apply", "DB"], app.path, store);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.equal(
      fixed.stdout,
      "Applied 0002_broken.sql\nApplied 0003_stock.sql\n2 migrations applied to DB.\n",
    );

    await using stead = await startShop(app.path, store);
    assert.deepEqual(await query(stead.url, "SELECT code, percent FROM coupons"), [
      ["WELCOME", 10],
    ]);
    assert.deepEqual(await query(stead.url, "SELECT name FROM d1_migrations ORDER BY id"), [
      ["0001_init.sql"],
      ["0002_broken.sql"],
      ["0003_stock.sql"],
    ]);
  });

  it("refuses to apply while a server holds the data directory, and the server keeps serving", async () => {
    using store = testStore();
    using app = shopApp({
      "migrations/0001_init.sql": SCHEMA,
      "migrations/0002_stock.sql":
        "ALTER TABLE products ADD COLUMN stock INTEGER NOT NULL DEFAULT 0;\n",
    });
    const first = await migrations(["apply", "DB"], app.path, store);
    assert.equal(first.code, 0, first.stderr);
    // Numbered after the last file there.
    const created = await migrations(["create", "DB", "Add SKU"], app.path, store);
    assert.equal(created.stdout, `Created ${join("migrations", "0003_add_sku.sql")}\n`);
    writeFileSync(
      join(app.path, "migrations", "0003_add_sku.sql"),
      "ALTER TABLE products ADD COLUMN sku TEXT;\n",
    );

    const stead = await startShop(app.path, store);
    try {
      const refused = await migrations(["apply", "DB"], app.path, store);
      assert.equal(refused.code, 1, refused.stdout);
      assert.equal(refused.stdout, "");
      assert.ok(
        refused.stderr.includes(`The data directory ${store.dataDir} is in use`),
        refused.stderr,
      );
      assert.ok(refused.stderr.includes(`pid ${stead.child.pid}`), refused.stderr);
      assertNoStack(refused.stderr);

      const added = await post(`${stead.url}/products`, { name: "Kettle", price: 2500 });
      assert.equal(added.status, 200, await added.text());
      assert.deepEqual(await query(stead.url, "SELECT name, stock FROM products ORDER BY id"), [
        ["Tea; green", 0],
        ["Kettle", 0],
      ]);
    } finally {
      assert.equal((await stead.stop()).code, 0, stead.stderr());
    }
    const pending = await migrations(["list", "DB"], app.path, store);
    assert.equal(pending.stdout, "Migrations to apply to DB, in order:\n  0003_add_sku.sql\n");
  });

  it("names the bindings there are, the option at fault, and the way to make a missing migrations folder", async () => {
    using store = testStore();
    using app = shopApp();
    writeFiles(app.path, {
      "wrangler.jsonc": shopConfig([
        { binding: "DB", database_name: "shop" },
        { binding: "ANALYTICS", database_name: "analytics", migrations_dir: "analytics" },
      ]),
    });
    for (const args of [
      ["apply", "SHOP"],
      ["create", "SHOP", "init"],
    ]) {
      const unknown = await migrations(args, app.path, store);
      assert.equal(unknown.code, 1, unknown.stdout);
      assert.match(
        unknown.stderr,
        /has no D1 binding named SHOP; its d1_databases bind DB, ANALYTICS\. Name one of them, or add \{ "binding": "SHOP"/,
      );
      assertNoStack(unknown.stderr);
    }
    assert.ok(!existsSync(join(app.path, "migrations")), "nothing was created");

    const missing = await migrations(["apply", "DB"], app.path, store);
    assert.equal(missing.code, 1, missing.stdout);
    assert.ok(
      missing.stderr.includes(`No migrations folder at ${join(app.path, "migrations")}.`),
      missing.stderr,
    );
    assert.match(missing.stderr, /stead d1 migrations create DB <message>/);
    assert.match(missing.stderr, /migrations_dir/);
    assertNoStack(missing.stderr);

    for (const [entry, path, problem] of [
      [
        { binding: "shop-db" },
        "d1_databases[0].binding",
        'must be a JavaScript identifier, like ASSETS, got "shop-db"',
      ],
      [
        { binding: "DB", migrations_table: "sqlite_history" },
        "d1_databases[0].migrations_table",
        "must not start with _cf_ or sqlite_",
      ],
      [
        { binding: "DB", migrations_table: "schema-history" },
        "d1_databases[0].migrations_table",
        'must be an SQL table name of letters, digits and _, like d1_migrations, got "schema-history"',
      ],
    ] as const) {
      writeFiles(app.path, { "wrangler.jsonc": shopConfig([entry]) });
      for (const refused of [
        await runStead(["start", app.path, "--port", "0"], { store }),
        await migrations(["list", "DB"], app.path, store),
      ]) {
        assert.equal(refused.code, 1, refused.stdout);
        assert.ok(
          refused.stderr.includes(`${join(app.path, "wrangler.jsonc")}: ${path}: ${problem}`),
          refused.stderr,
        );
        assertNoStack(refused.stderr);
      }
    }
  });

  it("honours migrations_dir and migrations_table", async () => {
    using store = testStore();
    using app = shopApp();
    writeFiles(app.path, {
      "wrangler.jsonc": shopConfig([
        {
          binding: "DB",
          database_name: "shop",
          migrations_dir: "db/schema",
          migrations_table: "schema_history",
        },
      ]),
    });
    const created = await migrations(["create", "DB", "Create products!"], app.path, store);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, `Created ${join("db", "schema", "0001_create_products.sql")}\n`);
    assert.ok(!existsSync(join(app.path, "migrations")), "no folder at the default place");
    writeFileSync(join(app.path, "db", "schema", "0001_create_products.sql"), SCHEMA);

    const applied = await migrations(["apply", "DB"], app.path, store);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(applied.stdout, "Applied 0001_create_products.sql\n1 migration applied to DB.\n");
    const none = await migrations(["list", "DB"], app.path, store);
    assert.equal(
      none.stdout,
      `No migrations to apply to DB: all 1 in ${join("db", "schema")} are applied.\n`,
    );

    await using stead = await startShop(app.path, store);
    assert.deepEqual(await query(stead.url, "SELECT name FROM schema_history"), [
      ["0001_create_products.sql"],
    ]);
    assert.deepEqual(
      await query(stead.url, "SELECT name FROM sqlite_master WHERE name = 'd1_migrations'"),
      [],
    );
    assert.deepEqual(await okJson(`${stead.url}/products`), [
      { id: 1, name: "Tea; green", price: 300 },
    ]);
  });

  it("applies with --storage to the PostgreSQL the server then reads, whatever the data directory", {
    skip: TEST_STORAGE.capabilities.localFiles
      ? `${TEST_STORAGE.name} storage keeps the database in the data directory: there is no --storage to share`
      : false,
  }, async () => {
    using store = testStore();
    using app = shopApp({ "migrations/0001_init.sql": SCHEMA });
    using elsewhere = tempDataDir("stead-d1-elsewhere-");
    const storage = store.env.STEAD_STORAGE_URL!;
    // Pointed at PostgreSQL by the flag alone, on a data directory of its own.
    const run = (command: string) =>
      runStead(
        ["d1", "migrations", command, "DB", "--data-dir", elsewhere.path, "--storage", storage],
        { cwd: app.path, env: { STEAD_STORAGE_URL: undefined } },
      );
    const applied = await run("apply");
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(applied.stdout, "Applied 0001_init.sql\n1 migration applied to DB.\n");
    const listed = await run("list");
    assert.equal(listed.stdout, "No migrations to apply to DB: all 1 in migrations are applied.\n");

    // The server's data directory has never seen the database: it comes from PostgreSQL.
    await using stead = await startShop(app.path, store);
    assert.deepEqual(await okJson(`${stead.url}/products`), [
      { id: 1, name: "Tea; green", price: 300 },
    ]);
  });
});
