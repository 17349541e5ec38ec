import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import { describe, it } from "node:test";
import { brotliDecompressSync, gunzipSync, inflateSync, zstdDecompressSync } from "node:zlib";
import { httpWorker, request, startHttp } from "../../test/support/http-harness.ts";

const MiB = 1024 * 1024;

/** Resolves with the response head and a reader of its body chunks as they arrive. */
function open(url: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, resolve);
    req.on("error", reject);
  });
}

describe("responses", () => {
  it("streams a 50 MiB body to the client", async () => {
    const worker = await httpWorker();
    await using h = await startHttp();
    const size = 50 * MiB;
    const res = await open(`${h.url}/pattern?bytes=${size}`);
    assert.equal(res.headers["transfer-encoding"], "chunked");
    const hash = createHash("sha256");
    let received = 0;
    for await (const chunk of res) {
      hash.update(chunk);
      received += chunk.byteLength;
    }
    const expected = createHash("sha256");
    for await (const chunk of worker.pattern(size)) expected.update(chunk);
    assert.equal(received, size);
    assert.equal(hash.digest("hex"), expected.digest("hex"));
    assert.equal((await h.record(`/pattern?bytes=${size}`)).bytes, size);
  });

  it("echoes a 50 MiB upload back while it is still arriving", async () => {
    await using h = await startHttp();
    const size = 50 * MiB;
    const sent = createHash("sha256");
    const got = createHash("sha256");
    let received = 0;
    let receivedBeforeUploadEnded = 0;
    await new Promise<void>((resolve, reject) => {
      const req = http.request(`${h.url}/echo`, { method: "POST" }, (res) => {
        res.on("data", (chunk: Buffer) => {
          got.update(chunk);
          received += chunk.byteLength;
        });
        res.on("end", resolve);
      });
      req.on("error", reject);
      let offset = 0;
      const pump = () => {
        while (offset < size) {
          const chunk = Buffer.alloc(Math.min(64 * 1024, size - offset), offset % 253);
          offset += chunk.length;
          sent.update(chunk);
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
        receivedBeforeUploadEnded = received;
        req.end();
      };
      pump();
    });
    assert.equal(received, size);
    assert.equal(got.digest("hex"), sent.digest("hex"));
    assert.ok(receivedBeforeUploadEnded > 0, "the echo started before the upload ended");
  });

  it("sends each Set-Cookie on its own line, and repeated headers", async () => {
    await using h = await startHttp();
    const res = await request(`${h.url}/cookies`);
    assert.deepEqual(res.headers["set-cookie"], [
      "session=abc; Path=/; HttpOnly",
      "theme=dark; Expires=Wed, 21 Oct 2037 07:28:00 GMT",
    ]);
    assert.equal(res.headers["x-multi"], "one, two");
    assert.equal(res.body.toString(), "cookies");
  });

  it("sends the status and status text", async () => {
    await using h = await startHttp();
    const res = await request(`${h.url}/status`);
    assert.equal(res.status, 418);
    assert.equal(res.statusText, "I'm A Teapot");
    assert.equal(res.body.toString(), "teapot");
    const missing = await request(`${h.url}/nowhere`);
    assert.equal(missing.status, 404);
    assert.equal(missing.statusText, "Not Found");
  });

  it("frames a body that is whole at once with Content-Length, and an empty one with 0", async () => {
    await using h = await startHttp();
    const small = await request(`${h.url}/status`);
    assert.equal(small.headers["content-length"], "6");
    assert.equal(small.headers["transfer-encoding"], undefined);
    const empty = await request(`${h.url}/empty`);
    assert.equal(empty.headers["content-length"], "0");
    const nullBody = await request(`${h.url}/null-body`);
    assert.equal(nullBody.headers["content-length"], "0");
    assert.equal(nullBody.headers["x-null"], "yes");
    const none = await request(`${h.url}/no-content`);
    assert.equal(none.status, 204);
    assert.equal(none.body.length, 0);
  });

  it("sends a string body as its UTF-8 bytes, untouched, touched or cloned", async () => {
    await using h = await startHttp();
    const bytes = Buffer.from("héllo \u{1F600}");
    for (const kind of ["plain", "touched", "clone"]) {
      const res = await request(`${h.url}/text-kinds?kind=${kind}`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, bytes, kind);
      assert.equal(res.headers["content-length"], String(bytes.byteLength), kind);
      assert.equal(res.headers["content-type"], "text/plain;charset=UTF-8", kind);
      assert.equal(res.headers["x-kind"], kind);
      assert.equal((await h.record(`/text-kinds?kind=${kind}`)).bytes, bytes.byteLength);
    }
    const json = await request(`${h.url}/text-kinds?kind=json`);
    assert.equal(json.status, 201);
    assert.equal(json.headers["content-type"], "application/json");
    assert.deepEqual(JSON.parse(json.body.toString()), { text: "héllo \u{1F600}" });
    const head = await request(`${h.url}/text-kinds?kind=plain`, { method: "HEAD" });
    assert.equal(head.headers["content-length"], String(bytes.byteLength));
    assert.equal(head.body.length, 0);
  });

  it("sends a bytes body as the bytes it had when made, untouched, touched or cloned", async () => {
    await using h = await startHttp();
    const whole = Buffer.from("<bytes \u{1F600}>");
    for (const kind of ["plain", "touched", "clone", "part"]) {
      const bytes = kind === "part" ? whole.subarray(1, whole.length - 1) : whole;
      const res = await request(`${h.url}/bytes-kinds?kind=${kind}`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, bytes, kind);
      assert.equal(res.headers["content-length"], String(bytes.byteLength), kind);
      assert.equal(res.headers["content-type"], undefined, kind);
      assert.equal(res.headers["x-kind"], kind);
      assert.equal((await h.record(`/bytes-kinds?kind=${kind}`)).bytes, bytes.byteLength);
    }
    const head = await request(`${h.url}/bytes-kinds?kind=plain`, { method: "HEAD" });
    assert.equal(head.headers["content-length"], String(whole.byteLength));
    assert.equal(head.body.length, 0);
  });

  it("sends a streamed body's first chunk before the rest exists", async () => {
    const worker = await httpWorker();
    await using h = await startHttp();
    const res = await open(`${h.url}/slow-stream`);
    const reader = res[Symbol.asyncIterator]();
    const first = await reader.next();
    assert.equal(String(first.value), "first;");
    worker.release();
    let rest = "";
    for (let next = await reader.next(); !next.done; next = await reader.next()) rest += next.value;
    assert.equal(rest, "second");
  });

  it("answers HEAD with the headers a GET would get, and no body", async () => {
    await using h = await startHttp();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const head = await request(`${h.url}/cookies`, { agent, method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.headers["set-cookie"]?.length, 2);
      assert.equal(head.headers["content-length"], "7");
      assert.equal(head.body.length, 0);
      // The connection stays in sync: the next request on the same socket is answered.
      const after = await request(`${h.url}/status`, { agent });
      assert.equal(after.reusedSocket, true);
      assert.equal(after.body.toString(), "teapot");
    } finally {
      agent.destroy();
    }
    const streamed = await request(`${h.url}/pattern?bytes=1000000`, { method: "HEAD" });
    assert.equal(streamed.status, 200);
    assert.equal(streamed.body.length, 0);
    assert.equal((await h.record("/pattern?bytes=1000000")).bytes, 0);
  });

  it("cuts the connection when the body stream fails midway, and keeps serving", async () => {
    const worker = await httpWorker();
    await using h = await startHttp();
    const res = await open(`${h.url}/broken-stream?late`);
    const outcome = new Promise<string>((resolve) => {
      res.on("error", (error) => resolve(error.message));
      res.on("end", () => resolve("ended as if complete"));
    });
    const first = await new Promise<string>((resolve) =>
      res.once("data", (c) => resolve(String(c))),
    );
    assert.equal(first, "partial");
    res.resume();
    worker.release();
    assert.equal(await outcome, "aborted");
    assert.match((await h.record("/broken-stream?late")).error ?? "", /stream exploded/);
    assert.equal((await request(`${h.url}/status`)).status, 418);
  });

  it("answers 500 when the body stream fails before its first chunk", async () => {
    await using h = await startHttp();
    const res = await request(`${h.url}/broken-stream`);
    assert.equal(res.status, 500);
    assert.equal(
      res.body.toString(),
      "Internal Server Error: the Worker's response body failed. The server log has the details.\n",
    );
    const notBytes = await request(`${h.url}/not-bytes`);
    assert.equal(notBytes.status, 500);
    assert.match(
      (await h.record("/not-bytes")).error ?? "",
      /This ReadableStream did not return bytes\./,
    );
  });

  it("encodes the body to match its Content-Encoding, as Workers do", async () => {
    await using h = await startHttp();
    const text = "compress me ".repeat(1000);
    const gzip = await request(`${h.url}/compressed?encoding=gzip`);
    assert.equal(gzip.headers["content-encoding"], "gzip");
    assert.equal(gunzipSync(gzip.body).toString(), text);
    assert.ok(gzip.body.length < text.length / 10);
    const br = await request(`${h.url}/compressed?encoding=br`);
    assert.equal(brotliDecompressSync(br.body).toString(), text);
    const deflate = await request(`${h.url}/compressed?encoding=deflate`);
    assert.equal(inflateSync(deflate.body).toString(), text);
    const zstd = await request(`${h.url}/compressed?encoding=zstd`);
    assert.equal(zstdDecompressSync(zstd.body).toString(), text);
    // An encoding the server does not apply is passed through as the Worker wrote it.
    const custom = await request(`${h.url}/compressed?encoding=x-custom`);
    assert.equal(custom.headers["content-encoding"], "x-custom");
    assert.equal(custom.body.toString(), text);
  });
});
