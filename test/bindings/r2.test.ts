import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  createRuntime,
  type DurableObjectNamespace,
  type R2Bucket,
  type R2ObjectBody,
} from "stead";
import { r2Objects } from "stead/testing";
import { collectGarbage, openFilesUnder } from "../support/open-files.ts";
import { skipUnless, storageOptions, testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { eventually } from "../support/wait-for.ts";

const WORKER = new URL("../fixtures/r2-worker.ts", import.meta.url);
const R2 = [{ binding: "BUCKET", bucket_name: "uploads" }];
const MiB = 1024 * 1024;

async function r2Runtime(options: Record<string, unknown> = {}) {
  const rt = await createRuntime({
    main: WORKER,
    durableObjects: { UPLOADER: "Uploader" },
    r2_buckets: R2,
    ...storageOptions(),
    ...options,
  });
  return { rt, bucket: rt.env.BUCKET as R2Bucket };
}

const md5 = (text: string | Uint8Array) => createHash("md5").update(text).digest("hex");

describe("R2 buckets (r2_buckets)", () => {
  it("puts, heads and gets objects with their metadata and checksums", async () => {
    const { rt, bucket } = await r2Runtime();
    await using _ = rt;
    const expiry = new Date("2030-01-01T00:00:00Z");
    const put = await bucket.put("docs/a.txt", "hello", {
      httpMetadata: { contentType: "text/plain", cacheControl: "max-age=60", cacheExpiry: expiry },
      customMetadata: { author: "ada" },
      sha256: createHash("sha256").update("hello").digest("hex"),
    });
    assert.ok(put !== null);
    assert.equal(put.key, "docs/a.txt");
    assert.equal(put.size, 5);
    assert.equal(put.etag, md5("hello"));
    assert.equal(put.httpEtag, `"${md5("hello")}"`);
    assert.equal(put.storageClass, "Standard");
    assert.deepEqual(put.checksums.toJSON(), {
      md5: md5("hello"),
      sha256: createHash("sha256").update("hello").digest("hex"),
    });
    const head = await bucket.head("docs/a.txt");
    assert.ok(head !== null);
    assert.equal(head.version, put.version);
    assert.deepEqual(head.httpMetadata, {
      contentType: "text/plain",
      cacheControl: "max-age=60",
      cacheExpiry: expiry,
    });
    assert.deepEqual(head.customMetadata, { author: "ada" });
    assert.ok(head.uploaded instanceof Date);
    const headers = new Headers();
    head.writeHttpMetadata(headers);
    assert.equal(headers.get("content-type"), "text/plain");
    assert.equal(headers.get("expires"), expiry.toUTCString());
    const body = await bucket.get("docs/a.txt");
    assert.ok(body !== null);
    assert.equal(await body.text(), "hello");
    assert.deepEqual(body.range, { offset: 0, length: 5 });
    assert.equal(await bucket.get("missing"), null);
    assert.equal(await bucket.head("missing"), null);
    // Values of every accepted type.
    await bucket.put("bytes", new Uint8Array([1, 2, 3]));
    await bucket.put("buffer", new Uint8Array([4, 5]).buffer);
    await bucket.put("blob", new Blob(["blob!"]));
    await bucket.put("stream", new Blob(["streamed"]).stream());
    await bucket.put("empty", null);
    assert.deepEqual([...(await (await bucket.get("bytes"))!.bytes())], [1, 2, 3]);
    assert.deepEqual(
      [...new Uint8Array(await (await bucket.get("buffer"))!.arrayBuffer())],
      [4, 5],
    );
    assert.equal(await (await bucket.get("blob"))!.text(), "blob!");
    assert.equal(await (await bucket.get("stream"))!.text(), "streamed");
    assert.equal((await bucket.head("empty"))!.size, 0);
    await assert.rejects(bucket.put("x", 42 as never), {
      name: "TypeError",
      message:
        "R2 put() accepts only nulls, strings, Blobs, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values.",
    });
  });

  it("reads ranges, and honours onlyIf on get and put", async () => {
    const { rt, bucket } = await r2Runtime();
    await using _ = rt;
    const first = (await bucket.put("key", "value"))!;
    const read = async (range: unknown) => {
      const body = (await bucket.get("key", { range })) as R2ObjectBody;
      return { range: body.range, text: await body.text() };
    };
    assert.deepEqual(await read({ offset: 1, length: 3 }), {
      range: { offset: 1, length: 3 },
      text: "alu",
    });
    assert.deepEqual(await read({ length: 42 }), {
      range: { offset: 0, length: 5 },
      text: "value",
    });
    assert.deepEqual(await read({ suffix: 3 }), { range: { offset: 2, length: 3 }, text: "lue" });
    assert.deepEqual(await read(new Headers({ range: "bytes=1-2" })), {
      range: { offset: 1, length: 2 },
      text: "al",
    });
    for (const range of [{ offset: 42 }, { length: 0 }, { suffix: 0 }]) {
      await assert.rejects(bucket.get("key", { range }), {
        message: "get: The requested range is not satisfiable (10039)",
      });
    }
    // A failed condition on get gives the object without a body.
    const notModified = await bucket.get("key", { onlyIf: { etagDoesNotMatch: first.etag } });
    assert.ok(notModified !== null && !("body" in notModified));
    const matched = await bucket.get("key", {
      onlyIf: new Headers({ "if-match": first.httpEtag }),
    });
    assert.equal(await (matched as R2ObjectBody).text(), "value");
    // A failed condition on put stores nothing and resolves to null.
    assert.equal(await bucket.put("key", "other", { onlyIf: { etagMatches: "nope" } }), null);
    assert.equal(await (await bucket.get("key"))!.text(), "value");
    assert.ok(await bucket.put("key", "new", { onlyIf: { etagMatches: first.etag } }));
    assert.equal(await bucket.put("fresh", "x", { onlyIf: { etagMatches: "*" } }), null);
    assert.equal(await bucket.put("key", "y", { onlyIf: { uploadedBefore: new Date(0) } }), null);
    assert.equal(await (await bucket.get("key"))!.text(), "new");
  });

  it("lists with prefix, delimiter, cursor, startAfter and include; deletes one or many", async () => {
    const { rt, bucket } = await r2Runtime();
    await using _ = rt;
    for (const key of ["a", "b/1", "b/2", "b/3/x", "c", "ü", "z"]) {
      await bucket.put(key, key, {
        customMetadata: { key },
        httpMetadata: { contentType: "text/plain" },
      });
    }
    const all = await bucket.list();
    assert.deepEqual(
      all.objects.map((o) => o.key),
      ["a", "b/1", "b/2", "b/3/x", "c", "z", "ü"],
    );
    assert.equal(all.truncated, false);
    assert.equal(all.cursor, undefined);
    assert.equal(all.objects[0]!.customMetadata, undefined);
    const withMeta = await bucket.list({
      prefix: "b/",
      include: ["customMetadata", "httpMetadata"],
    });
    assert.deepEqual(
      withMeta.objects.map((o) => o.customMetadata),
      [{ key: "b/1" }, { key: "b/2" }, { key: "b/3/x" }],
    );
    assert.deepEqual(withMeta.objects[0]!.httpMetadata, { contentType: "text/plain" });
    const rolled = await bucket.list({ delimiter: "/" });
    assert.deepEqual(
      rolled.objects.map((o) => o.key),
      ["a", "c", "z", "ü"],
    );
    assert.deepEqual(rolled.delimitedPrefixes, ["b/"]);
    const under = await bucket.list({ prefix: "b/", delimiter: "/" });
    assert.deepEqual(
      under.objects.map((o) => o.key),
      ["b/1", "b/2"],
    );
    assert.deepEqual(under.delimitedPrefixes, ["b/3/"]);
    // Pages of two, objects and prefixes counted together.
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await bucket.list({ limit: 2, delimiter: "/", ...(cursor ? { cursor } : {}) });
      assert.ok(page.objects.length + page.delimitedPrefixes.length <= 2);
      keys.push(...page.objects.map((o) => o.key), ...page.delimitedPrefixes);
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor !== undefined);
    assert.deepEqual(keys, ["a", "b/", "c", "z", "ü"]);
    assert.deepEqual(
      (await bucket.list({ startAfter: "b/2" })).objects.map((o) => o.key),
      ["b/3/x", "c", "z", "ü"],
    );
    await assert.rejects(bucket.list({ limit: 1001 }), {
      message: "list: MaxKeys params must be positive integer <= 1000. (10022)",
    });
    const snapshot = await r2Objects(bucket);
    assert.deepEqual([...snapshot.keys()], ["a", "b/1", "b/2", "b/3/x", "c", "z", "ü"]);
    assert.deepEqual(snapshot.get("a"), {
      size: 1,
      etag: md5("a"),
      httpMetadata: { contentType: "text/plain" },
      customMetadata: { key: "a" },
    });
    await bucket.delete("a");
    await bucket.delete(["b/1", "b/2", "missing"]);
    assert.deepEqual(
      (await bucket.list()).objects.map((o) => o.key),
      ["b/3/x", "c", "z", "ü"],
    );
  });

  it("uploads in parts: complete, abort, and R2's errors", async () => {
    const { rt, bucket } = await r2Runtime();
    await using _ = rt;
    const upload = await bucket.createMultipartUpload("big", {
      httpMetadata: { contentType: "application/octet-stream" },
      customMetadata: { parts: "3" },
    });
    const parts = [
      await upload.uploadPart(1, new Uint8Array(5 * MiB).fill(1)),
      await upload.uploadPart(2, new Blob([new Uint8Array(5 * MiB).fill(2)]).stream()),
      await upload.uploadPart(3, "tail"),
    ];
    assert.equal(await bucket.head("big"), null);
    const resumed = bucket.resumeMultipartUpload("big", upload.uploadId);
    const object = await resumed.complete([parts[1]!, parts[0]!, parts[2]!]);
    assert.equal(object.size, 10 * MiB + 4);
    const expected = createHash("md5");
    for (const fill of [1, 2])
      expected.update(
        createHash("md5")
          .update(new Uint8Array(5 * MiB).fill(fill))
          .digest(),
      );
    expected.update(createHash("md5").update("tail").digest());
    assert.equal(object.etag, `${expected.digest("hex")}-3`);
    assert.deepEqual(object.customMetadata, { parts: "3" });
    const tail = (await bucket.get("big", { range: { suffix: 6 } }))!;
    assert.deepEqual([...(await tail.bytes())], [2, 2, ...new TextEncoder().encode("tail")]);
    const across = (await bucket.get("big", { range: { offset: 5 * MiB - 2, length: 4 } }))!;
    assert.deepEqual([...(await across.bytes())], [1, 1, 2, 2]);
    await assert.rejects(resumed.uploadPart(4, "late"), {
      message: "uploadPart: The specified multipart upload does not exist. (10024)",
    });
    await resumed.abort(); // aborting a completed upload is fine

    const small = await bucket.createMultipartUpload("small");
    const a = await small.uploadPart(1, "a");
    const b = await small.uploadPart(2, "b");
    await assert.rejects(small.complete([a, b]), {
      message:
        "completeMultipartUpload: Your proposed upload is smaller than the minimum allowed object size. (10011)",
    });
    await assert.rejects(small.complete([{ partNumber: 1, etag: "wrong" }]), {
      message:
        "completeMultipartUpload: One or more of the specified parts could not be found. (10025)",
    });
    await assert.rejects(small.complete([a, a]), {
      message:
        "completeMultipartUpload: We encountered an internal error. Please try again. (10001)",
    });
    await assert.rejects(small.uploadPart(0, "x"), {
      name: "TypeError",
      message: "Part number must be between 1 and 10000 (inclusive). Actual value was: 0",
    });
    await small.abort();
    await assert.rejects(small.uploadPart(3, "c"), {
      message: "uploadPart: The specified multipart upload does not exist. (10024)",
    });
    await assert.rejects(bucket.resumeMultipartUpload("other-key", upload.uploadId).abort(), {
      message: "abortMultipartUpload: We encountered an internal error. Please try again. (10001)",
    });
    assert.equal((await bucket.head("big"))!.size, 10 * MiB + 4);
    // Only the completed object's three part files are left.
    assert.equal(readdirSync(join(rt.dataDir!, "r2-blobs")).length, 3);
  });

  it("refuses keys, metadata and checksums over R2's limits, storing nothing", async () => {
    const { rt, bucket } = await r2Runtime();
    await using _ = rt;
    const long = "x".repeat(1025);
    for (const [call, method] of [
      [() => bucket.put(long, "v"), "put"],
      [() => bucket.get(long), "get"],
      [() => bucket.head(long), "head"],
      [() => bucket.delete([long]), "delete"],
      [() => bucket.createMultipartUpload(long), "createMultipartUpload"],
    ] as const) {
      await assert.rejects(call(), {
        message: `${method}: The specified object name is not valid. (10020)`,
      });
    }
    await assert.rejects(bucket.put("meta", "v", { customMetadata: { k: "v".repeat(2048) } }), {
      message: "put: Your metadata headers exceed the maximum allowed metadata size. (10012)",
    });
    await assert.rejects(bucket.put("digest", "hello", { md5: md5("other") }), {
      message: [
        "put: The MD5 checksum you specified did not match what we received.",
        `You provided a MD5 checksum with value: ${md5("other")}`,
        `Actual MD5 was: ${md5("hello")} (10037)`,
      ].join("\n"),
    });
    await assert.rejects(bucket.put("digest", "hello", { md5: "abcd" }), {
      name: "TypeError",
      message: "MD5 is 16 bytes, not 2",
    });
    assert.deepEqual((await bucket.list()).objects, []);
    assert.deepEqual(readdirSync(join(rt.dataDir!, "r2-blobs")), []);
  });

  it("closes the file of a body dropped unread or half read", async () => {
    const { rt, bucket } = await r2Runtime();
    await using _ = rt;
    await bucket.put("big", new Uint8Array(3 * MiB).fill(7));
    const blobs = join(rt.dataDir!, "r2-blobs");
    // In a function of its own, so that no frame of the test's keeps the last body.
    const dropBodies = async () => {
      for (let i = 0; i < 20; i++) {
        const object = await bucket.get("big");
        if (i % 2 === 0) await object!.body.getReader().read();
      }
    };
    await dropBodies();
    await eventually("the dropped bodies' files are closed", async () => {
      await collectGarbage();
      return openFilesUnder(blobs) === 0 ? true : undefined;
    });
    assert.equal((await (await bucket.get("big"))!.arrayBuffer()).byteLength, 3 * MiB);
  });

  it("keeps path-like keys inside the data directory", async () => {
    using dir = tempDataDir("stead-r2-paths-");
    const dataDir = join(dir.path, "data");
    const { rt, bucket } = await r2Runtime({ dataDir });
    await using _ = rt;
    for (const key of ["../escape", "/etc/passwd", "a\0b", "..", "./x/../../y"]) {
      await bucket.put(key, `value of ${key}`);
      assert.equal(await (await bucket.get(key))!.text(), `value of ${key}`);
    }
    assert.deepEqual(readdirSync(dir.path), ["data"]);
    assert.ok(!existsSync(join(dir.path, "escape")));
    for (const name of readdirSync(join(dataDir, "r2-blobs"))) assert.match(name, /^[0-9a-f]{32}$/);
  });

  it("works from the Worker and from Durable Objects on object threads", {
    skip: skipUnless("threads", "runs objects on object threads"),
  }, async () => {
    using store = testStore();
    await using rt = await createRuntime({
      main: WORKER,
      durableObjects: { UPLOADER: "Uploader" },
      r2_buckets: R2,
      threads: 2,
      ...store.options,
    });
    const put = await rt.fetch("http://x/greeting", {
      method: "PUT",
      body: "hi",
      headers: { "content-type": "text/plain" },
    });
    assert.equal((await put.json()).size, 2);
    const uploader = rt.env.UPLOADER as DurableObjectNamespace;
    const saved = await Promise.all(
      ["a", "b", "c", "d"].map((name) =>
        (uploader.getByName(name) as any).save(`note-${name}`, name),
      ),
    );
    assert.deepEqual(saved, ["a", "b", "c", "d"]);
    assert.deepEqual(
      (await rt.env.BUCKET.list({ prefix: "note-" })).objects.map((o: { key: string }) => o.key),
      ["note-a", "note-b", "note-c", "note-d"],
    );
    const got = await rt.fetch("http://x/greeting", { headers: { range: "bytes=1-" } });
    assert.equal(got.status, 206);
    assert.equal(got.headers.get("content-type"), "text/plain");
    assert.equal(await got.text(), "i");
  });
});
