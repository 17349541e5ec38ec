import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createRuntime, type DurableObjectNamespace, type KVNamespace, ManualClock } from "stead";
import { kvEntries } from "stead/testing";
import { skipUnless, storageOptions, testStore } from "../support/storage.ts";

const WORKER = new URL("../fixtures/kv-worker.ts", import.meta.url);
const KV = [{ binding: "KV", id: "0f2ac74b498b48028cb68387c421e279" }];

async function kvRuntime(clock = new ManualClock()) {
  const rt = await createRuntime({
    main: WORKER,
    durableObjects: { NOTES: "Notes" },
    kv_namespaces: KV,
    clock,
    ...storageOptions(),
  });
  return { rt, kv: rt.env.KV as KVNamespace, clock };
}

describe("KV namespaces (kv_namespaces)", () => {
  it("gets values as text, json, arrayBuffer and stream, with metadata", async () => {
    const { rt, kv } = await kvRuntime();
    await using _ = rt;
    await kv.put("text", "hello");
    await kv.put("json", JSON.stringify({ a: [1, 2] }), { metadata: { author: "ada" } });
    await kv.put("bytes", new Uint8Array([0, 1, 255]));
    await kv.put("view", new DataView(new Uint8Array([7, 8, 9]).buffer, 1, 2));
    await kv.put("stream", new Blob(["streamed"]).stream());
    assert.equal(await kv.get("text"), "hello");
    assert.equal(await kv.get("text", { type: "text", cacheTtl: 60 }), "hello");
    assert.deepEqual(await kv.get("json", "json"), { a: [1, 2] });
    assert.deepEqual(
      new Uint8Array((await kv.get("bytes", "arrayBuffer"))!),
      new Uint8Array([0, 1, 255]),
    );
    assert.deepEqual(
      new Uint8Array((await kv.get("view", "arrayBuffer"))!),
      new Uint8Array([8, 9]),
    );
    assert.equal(await new Response(await kv.get("stream", "stream")).text(), "streamed");
    assert.equal(await kv.get("missing"), null);
    assert.deepEqual(await kv.getWithMetadata("json", "json"), {
      value: { a: [1, 2] },
      metadata: { author: "ada" },
      cacheStatus: null,
    });
    assert.deepEqual(await kv.getWithMetadata("text"), {
      value: "hello",
      metadata: null,
      cacheStatus: null,
    });
    assert.deepEqual(await kv.getWithMetadata("missing"), {
      value: null,
      metadata: null,
      cacheStatus: null,
    });
    await kv.delete("text");
    await kv.delete("never-there");
    assert.equal(await kv.get("text"), null);
  });

  it("gets up to 100 keys at once, as text or json, with metadata", async () => {
    const { rt, kv } = await kvRuntime();
    await using _ = rt;
    await kv.put("a", '"A"', { metadata: { n: 1 } });
    await kv.put("b", "[2]");
    const texts = await kv.get(["a", "b", "c"]);
    assert.deepEqual(
      [...texts],
      [
        ["a", '"A"'],
        ["b", "[2]"],
        ["c", null],
      ],
    );
    const json = await kv.get(["a", "b"], "json");
    assert.deepEqual(
      [...json],
      [
        ["a", "A"],
        ["b", [2]],
      ],
    );
    const withMetadata = await kv.getWithMetadata(["a", "c"], { type: "json" });
    assert.deepEqual(
      [...withMetadata],
      [
        ["a", { value: "A", metadata: { n: 1 } }],
        ["c", null],
      ],
    );
    const keys = Array.from({ length: 101 }, (_, i) => `k${i}`);
    await assert.rejects(kv.get(keys), {
      message: "KV GET_BULK failed: 400 You can request a maximum of 100 keys",
    });
    await assert.rejects(kv.get([]), {
      message: "KV GET_BULK failed: 400 You must request a minimum of 1 key",
    });
    await assert.rejects(kv.get(["a"], "arrayBuffer" as "text"), {
      message: 'KV GET_BULK failed: 400 "arrayBuffer" is not a valid type. Use "json" or "text"',
    });
    await kv.put("not-json", "{");
    await assert.rejects(kv.get(["a", "not-json"], "json"), {
      message:
        "KV GET_BULK failed: 400 At least one of the requested keys corresponds to a non-json value",
    });
    await assert.rejects(kv.get(["x".repeat(513)]), {
      message:
        "KV GET_BULK failed: 414 UTF-8 encoded length of 513 exceeds key length limit of 512.",
    });
  });

  it("lists keys in UTF-8 order with prefix, limit and cursor, metadata and expiration", async () => {
    const { rt, kv, clock } = await kvRuntime();
    await using _ = rt;
    const expiration = Math.floor(clock.now() / 1000) + 3600;
    for (const key of ["b/2", "a", "b/1", "b/3", "é", "z", "b/10"]) await kv.put(key, key);
    await kv.put("b/4", "x", { metadata: { tag: 4 }, expiration });
    const all = await kv.list();
    assert.equal(all.list_complete, true);
    assert.equal("cursor" in all, false);
    assert.equal(all.cacheStatus, null);
    assert.deepEqual(
      all.keys.map((k: { name: string }) => k.name),
      ["a", "b/1", "b/10", "b/2", "b/3", "b/4", "z", "é"],
    );
    assert.deepEqual(all.keys[5], { name: "b/4", expiration, metadata: { tag: 4 } });
    assert.deepEqual(all.keys[0], { name: "a" });
    const first = await kv.list({ prefix: "b/", limit: 2 });
    assert.deepEqual(
      first.keys.map((k: { name: string }) => k.name),
      ["b/1", "b/10"],
    );
    assert.equal(first.list_complete, false);
    assert.ok(!first.list_complete && typeof first.cursor === "string");
    const second = await kv.list({ prefix: "b/", limit: 2, cursor: first.cursor });
    assert.deepEqual(
      second.keys.map((k: { name: string }) => k.name),
      ["b/2", "b/3"],
    );
    const third = await kv.list({
      prefix: "b/",
      limit: 2,
      cursor: (second as { cursor: string }).cursor,
    });
    assert.deepEqual(
      third.keys.map((k: { name: string }) => k.name),
      ["b/4"],
    );
    assert.equal(third.list_complete, true);
    await assert.rejects(kv.list({ limit: 1001 }), {
      message:
        "KV GET failed: 400 Invalid key_count_limit of 1001. Please specify an integer less than 1000.",
    });
    await assert.rejects(kv.list({ prefix: "p".repeat(600) }), {
      message: "KV GET failed: 414 UTF-8 encoded length of 600 exceeds key length limit of 512.",
    });
  });

  it("enforces expiration and expirationTtl on the runtime's clock", async () => {
    const { rt, kv, clock } = await kvRuntime();
    await using _ = rt;
    const now = Math.floor(clock.now() / 1000);
    await kv.put("ttl", "short", { expirationTtl: 60 });
    await kv.put("at", "later", { expiration: now + 120 });
    await kv.put("forever", "yes");
    assert.equal((await kv.getWithMetadata("ttl")).value, "short");
    assert.deepEqual(
      (await kv.list()).keys.find((k: { name: string }) => k.name === "ttl"),
      { name: "ttl", expiration: now + 60 },
    );
    await clock.advance(59_000);
    assert.equal(await kv.get("ttl"), "short");
    await clock.advance(1_000);
    assert.equal(await kv.get("ttl"), null);
    assert.equal(await kv.get("at"), "later");
    assert.deepEqual(
      (await kv.list()).keys.map((k: { name: string }) => k.name),
      ["at", "forever"],
    );
    await clock.advance(60_000);
    assert.equal(await kv.get("at"), null);
    assert.deepEqual(
      [...(await kv.get(["at", "forever"]))],
      [
        ["at", null],
        ["forever", "yes"],
      ],
    );
    // A put past the expiry sweeps expired entries; a new put of the key starts afresh.
    await kv.put("ttl", "again");
    assert.equal(await kv.get("ttl"), "again");
  });

  it("refuses what Cloudflare refuses, with its error texts, and stores nothing", async () => {
    const { rt, kv, clock } = await kvRuntime();
    await using _ = rt;
    const now = Math.floor(clock.now() / 1000);
    const cases: Array<[() => Promise<unknown>, { name?: string; message: string }]> = [
      [
        () => kv.get("x".repeat(513)),
        {
          message:
            "KV GET failed: 414 UTF-8 encoded length of 513 exceeds key length limit of 512.",
        },
      ],
      [
        () => kv.put("é".repeat(257), "v"),
        {
          message:
            "KV PUT failed: 414 UTF-8 encoded length of 514 exceeds key length limit of 512.",
        },
      ],
      [
        () => kv.delete("x".repeat(600)),
        {
          message:
            "KV DELETE failed: 414 UTF-8 encoded length of 600 exceeds key length limit of 512.",
        },
      ],
      [() => kv.put("", "v"), { name: "TypeError", message: "Key name cannot be empty." }],
      [() => kv.get("."), { name: "TypeError", message: '"." is not allowed as a key name.' }],
      [
        () => kv.put("..", "v"),
        { name: "TypeError", message: '".." is not allowed as a key name.' },
      ],
      [
        () => kv.put("k", new Map() as never),
        {
          name: "TypeError",
          message:
            "KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values.",
        },
      ],
      [
        () => kv.put("k", "v", { expirationTtl: 30 }),
        {
          message:
            "KV PUT failed: 400 Invalid expiration_ttl of 30. Expiration TTL must be at least 60.",
        },
      ],
      [
        () => kv.put("k", "v", { expirationTtl: -1 }),
        {
          message:
            "KV PUT failed: 400 Invalid expiration_ttl of -1. Please specify integer greater than 0.",
        },
      ],
      [
        () => kv.put("k", "v", { expiration: now + 30 }),
        {
          message: `KV PUT failed: 400 Invalid expiration of ${now + 30}. Expiration times must be at least 60 seconds in the future.`,
        },
      ],
      [
        () => kv.put("k", "v", { expiration: now - 1 }),
        {
          message: `KV PUT failed: 400 Invalid expiration of ${now - 1}. Please specify integer greater than the current number of seconds since the UNIX epoch.`,
        },
      ],
      [
        () => kv.put("k", "v", { metadata: { pad: "m".repeat(1100) } }),
        { message: "KV PUT failed: 413 Metadata length of 1110 exceeds limit of 1024." },
      ],
      [
        () => kv.put("k", new Uint8Array(25 * 1024 * 1024 + 1)),
        { message: "KV PUT failed: 413 Value length of 26214401 exceeds limit of 26214400." },
      ],
      [
        () => kv.put("k", new Blob([new Uint8Array(25 * 1024 * 1024 + 7)]).stream()),
        { message: "KV PUT failed: 413 Value length of 26214407 exceeds limit of 26214400." },
      ],
      [
        () => kv.get("k", { cacheTtl: 10 }),
        { message: "KV GET failed: 400 Invalid cache_ttl of 10. Cache TTL must be at least 30." },
      ],
    ];
    for (const [call, expected] of cases) await assert.rejects(call, expected);
    assert.deepEqual((await kv.list()).keys, []);
    await kv.put("k", "v");
    await assert.rejects(kv.get("k", "blob" as "text"), {
      name: "TypeError",
      message:
        'Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".',
    });
    // The largest value and metadata that fit are stored.
    await kv.put("big", new Uint8Array(25 * 1024 * 1024), { metadata: "m".repeat(1022) });
    assert.equal(
      ((await kv.get("big", "arrayBuffer")) as ArrayBuffer).byteLength,
      25 * 1024 * 1024,
    );
  });

  it("keeps keys that look like paths inside kv.sqlite, and keeps them across restarts", {
    skip: skipUnless("localFiles", "reads the modes of the files in the data directory"),
  }, async () => {
    using store = testStore();
    const options = {
      main: WORKER,
      durableObjects: { NOTES: "Notes" },
      kv_namespaces: KV,
      ...store.options,
    };
    const keys = ["../escape", "/etc/passwd", "a\0b", "..\\..\\x", "C:\\windows"];
    {
      await using rt = await createRuntime(options);
      for (const key of keys) await rt.env.KV.put(key, `value of ${key}`);
    }
    await using rt = await createRuntime(options);
    for (const key of keys) assert.equal(await rt.env.KV.get(key), `value of ${key}`);
    // The database and what SQLite makes beside it are the owner's alone, as every data file.
    for (const suffix of ["", "-wal", "-shm"]) {
      const file = join(store.dataDir, `kv.sqlite${suffix}`);
      if (suffix === "" || existsSync(file)) assert.equal(statSync(file).mode & 0o777, 0o600, file);
    }
    assert.equal(existsSync(join(store.dataDir, "..", "escape")), false);
    // Two bindings with one id share their keys; another id does not.
    await using shared = await createRuntime({
      ...options,
      dataDir: join(store.dataDir, "other"),
      kv_namespaces: [...KV, { binding: "SAME", id: KV[0]!.id }, { binding: "OTHER" }],
    });
    await shared.env.KV.put("k", "v");
    assert.equal(await shared.env.SAME.get("k"), "v");
    assert.equal(await shared.env.OTHER.get("k"), null);
  });

  it("works from the Worker and from Durable Objects on object threads", {
    skip: skipUnless("threads", "runs objects on object threads"),
  }, async () => {
    using store = testStore();
    await using rt = await createRuntime({
      main: WORKER,
      durableObjects: { NOTES: "Notes" },
      kv_namespaces: KV,
      threads: 2,
      ...store.options,
    });
    const put = await rt.fetch("http://x/greeting", { method: "PUT", body: "hi" });
    assert.equal(await put.text(), "stored");
    const notes = rt.env.NOTES as DurableObjectNamespace;
    const stubs = ["a", "b", "c", "d"].map((name) => notes.getByName(name) as any);
    assert.deepEqual(await Promise.all(stubs.map((s) => s.read("greeting"))), [
      "hi",
      "hi",
      "hi",
      "hi",
    ]);
    assert.deepEqual(await Promise.all(stubs.map((s, i) => s.save(`note-${i}`, `from ${i}`))), [
      "from 0",
      "from 1",
      "from 2",
      "from 3",
    ]);
    assert.equal(await (await rt.fetch("http://x/note-2")).text(), "from 2");
    assert.deepEqual(
      (await rt.env.KV.list({ prefix: "note-" })).keys.map((k: { name: string }) => k.name),
      ["note-0", "note-1", "note-2", "note-3"],
    );
  });

  it("kvEntries (stead/testing) reads a whole namespace, page by page", async () => {
    const { rt, kv, clock } = await kvRuntime();
    await using _ = rt;
    const expiration = Math.floor(clock.now() / 1000) + 600;
    for (let i = 0; i < 1005; i++) await kv.put(`k${String(i).padStart(4, "0")}`, `v${i}`);
    await kv.put("meta", "m", { metadata: { a: 1 }, expiration });
    const entries = await kvEntries(kv);
    assert.equal(entries.size, 1006);
    assert.deepEqual(entries.get("k0007"), { value: "v7", metadata: null });
    assert.deepEqual(entries.get("meta"), { value: "m", metadata: { a: 1 }, expiration });
  });

  it("refuses bad kv_namespaces options naming the option", async () => {
    await assert.rejects(
      createRuntime({ main: WORKER, kv_namespaces: [{ binding: "not valid" }] }),
      /kv_namespaces\.0\.binding: must be a JavaScript identifier/,
    );
    await assert.rejects(
      createRuntime({ main: WORKER, vars: { KV: 1 }, kv_namespaces: [{ binding: "KV" }] }),
      /kv_namespaces: KV is also bound by vars/,
    );
  });
});
