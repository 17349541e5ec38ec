import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import { describe, it } from "node:test";
import { httpWorker, rawExchange, request, startHttp } from "../../test/support/http-harness.ts";
import { waitFor } from "../../test/support/wait-for.ts";

const MiB = 1024 * 1024;

/** `size` bytes of a repeating pattern, as 64 KiB chunks made on demand. */
function* chunks(size: number): Generator<Buffer> {
  for (let sent = 0; sent < size; ) {
    const chunk = Buffer.alloc(Math.min(64 * 1024, size - sent));
    for (let i = 0; i < chunk.length; i++) chunk[i] = (sent + i) % 251;
    sent += chunk.length;
    yield chunk;
  }
}

/** Streams `size` bytes as a POST body with backpressure; resolves with the response. */
function upload(
  url: string,
  size: number,
  headers: http.OutgoingHttpHeaders = {},
  onChunk?: (bytes: number) => void,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    const source = chunks(size);
    const pump = () => {
      for (let next = source.next(); !next.done; next = source.next()) {
        onChunk?.(next.value.byteLength);
        if (!req.write(next.value)) {
          req.once("drain", pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

function sha256(size: number): string {
  const hash = createHash("sha256");
  for (const chunk of chunks(size)) hash.update(chunk);
  return hash.digest("hex");
}

describe("request bodies", () => {
  it("streams a 50 MiB upload to the Worker as it arrives, never holding it whole", async () => {
    const worker = await httpWorker();
    await using h = await startHttp();
    const size = 50 * MiB;
    const start = worker.probe.hashed;
    let sent = 0;
    let ahead = 0;
    const result = await upload(`${h.url}/hash`, size, { "content-length": size }, (chunk) => {
      sent += chunk;
      ahead = Math.max(ahead, sent - (worker.probe.hashed - start));
    });
    assert.equal(result.status, 200);
    assert.deepEqual(JSON.parse(result.body), { bytes: size, sha256: sha256(size) });
    // What the client has sent but the Worker has not consumed sits in socket buffers and the
    // server's small read-ahead: a small fraction of the body, never the whole of it.
    assert.ok(ahead < 12 * MiB, `the client got ${(ahead / MiB).toFixed(1)} MiB ahead`);
  });

  it("streams a chunked upload of unknown length", async () => {
    await using h = await startHttp();
    const size = 3 * MiB + 17;
    const result = await upload(`${h.url}/hash`, size, { "transfer-encoding": "chunked" });
    assert.deepEqual(JSON.parse(result.body), { bytes: size, sha256: sha256(size) });
  });

  it("is full duplex: the Worker's echo of each chunk arrives before the next one is sent", async () => {
    await using h = await startHttp();
    const received: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = http.request(`${h.url}/echo`, { method: "POST" }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
          received.push(chunk);
          const n = text.split(";").length - 1;
          if (n < 5) req.write(`ping-${n};`);
          else req.end();
        });
        res.on("end", () => {
          assert.equal(text, "ping-0;ping-1;ping-2;ping-3;ping-4;");
          resolve();
        });
      });
      req.on("error", reject);
      req.write("ping-0;");
    });
    assert.equal(received.length, 5, "one response chunk per request chunk");
  });

  it("gives a bodiless request a null body, and a POST its body", async () => {
    await using h = await startHttp();
    const get = JSON.parse((await request(`${h.url}/info`)).body.toString());
    assert.equal(get.hasBody, false);
    const empty = JSON.parse((await request(`${h.url}/info`, { method: "POST" })).body.toString());
    assert.equal(empty.hasBody, false);
    const post = JSON.parse(
      (await request(`${h.url}/info`, { method: "PUT", body: "payload" })).body.toString(),
    );
    assert.deepEqual([post.method, post.hasBody, post.body], ["PUT", true, "payload"]);
  });

  it("answers 413 from Content-Length before reading the body or calling the Worker", async () => {
    const worker = await httpWorker();
    await using h = await startHttp({ maxBodyBytes: 1000 });
    const before = worker.probe.started.length;
    // Headers only: the declared body never comes, and the server does not wait for it.
    const raw = await rawExchange(
      h.port,
      "POST /hash HTTP/1.1\r\nHost: app.test\r\nContent-Length: 1001\r\n\r\n",
    );
    assert.match(raw, /^HTTP\/1\.1 413 /);
    assert.match(raw, /\r\nconnection: close\r\n/i);
    assert.ok(
      raw.endsWith(
        "\r\n\r\nContent Too Large: the request body (Content-Length: 1001) exceeds this server's limit of 1000 bytes.\n",
      ),
      raw,
    );
    assert.equal(worker.probe.started.length, before, "the Worker was not called");
    assert.equal((await h.record("/hash")).status, 413);

    const fits = await upload(`${h.url}/hash`, 1000, { "content-length": 1000 });
    assert.equal(fits.status, 200);
  });

  it("answers 413 to Expect: 100-continue without inviting the body", async () => {
    await using h = await startHttp({ maxBodyBytes: 1000 });
    const raw = await rawExchange(
      h.port,
      "POST /hash HTTP/1.1\r\nHost: app.test\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n",
    );
    assert.match(raw, /^HTTP\/1\.1 413 /);
    const fits = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${h.url}/hash`, {
        method: "POST",
        headers: { expect: "100-continue", "content-length": 10 },
      });
      req.on("continue", () => req.end("0123456789"));
      req.on("response", (res) => resolve(res.statusCode!));
      req.on("error", reject);
    });
    assert.equal(fits, 200);
  });

  it("answers 413 when a chunked body grows past the limit, and the Worker's read fails", async () => {
    const worker = await httpWorker();
    await using h = await startHttp({ maxBodyBytes: 256 * 1024 });
    const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        `${h.url}/hash`,
        { method: "POST", headers: { "transfer-encoding": "chunked" } },
        (res) => {
          let body = "";
          res.on("data", (chunk) => (body += chunk));
          res.on("end", () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on("error", reject);
      // Keep sending until the server answers; it must answer without waiting for the end.
      const source = chunks(64 * MiB);
      let answered = false;
      req.once("response", () => (answered = true));
      const pump = () => {
        while (!answered) {
          const next = source.next();
          if (next.done) return req.end();
          if (!req.write(next.value)) return void req.once("drain", pump);
        }
      };
      pump();
    });
    assert.equal(result.status, 413);
    assert.equal(
      result.body,
      "Content Too Large: the request body exceeds this server's limit of 262144 bytes.\n",
    );
    await waitFor(() => worker.probe.bodyErrors.length > 0, "the Worker's failed read");
    assert.match(worker.probe.bodyErrors.at(-1)!, /exceeds this server's limit of 262144 bytes/);
    // The server keeps serving.
    assert.equal((await request(`${h.url}/status`)).status, 418);
  });

  it("keeps a connection usable when the Worker answers without reading the body", async () => {
    await using h = await startHttp();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await request(`${h.url}/ignore-body`, {
        agent,
        method: "POST",
        body: Buffer.alloc(512 * 1024, 7),
      });
      assert.equal(first.body.toString(), "ignored");
      const second = await request(`${h.url}/status`, { agent });
      assert.equal(second.status, 418);
      assert.equal(second.reusedSocket, true);
    } finally {
      agent.destroy();
    }
  });

  it("cuts the connection when a body the Worker did not read grows past the limit", async () => {
    await using h = await startHttp({ maxBodyBytes: 256 * 1024 });
    let sent = 0;
    const outcome = await new Promise<{ status: number; error: string }>((resolve) => {
      let status = 0;
      const req = http.request(`${h.url}/ignore-body`, {
        method: "POST",
        headers: { "transfer-encoding": "chunked" },
      });
      req.on("response", (res) => {
        status = res.statusCode!;
        res.resume();
      });
      req.on("error", (error: NodeJS.ErrnoException) => resolve({ status, error: error.code! }));
      const source = chunks(64 * MiB);
      const pump = () => {
        for (let next = source.next(); !next.done; next = source.next()) {
          sent += next.value.length;
          if (!req.write(next.value)) return void req.once("drain", pump);
        }
        req.end();
      };
      pump();
    });
    assert.equal(outcome.status, 200, "the Worker's answer arrived first");
    assert.match(outcome.error, /^(ECONNRESET|EPIPE)$/);
    assert.ok(sent < 32 * MiB, `the client sent ${sent} bytes before the cut`);
  });

  it("fails the Worker's read when the client disconnects mid-upload", async () => {
    const worker = await httpWorker();
    await using h = await startHttp();
    const before = worker.probe.bodyErrors.length;
    const started = worker.probe.started.length;
    const req = http.request(`${h.url}/hash`, {
      method: "POST",
      headers: { "content-length": 10 * MiB },
    });
    req.on("error", () => {});
    req.write(Buffer.alloc(100_000));
    await waitFor(() => worker.probe.started.length > started, "the Worker to start");
    req.destroy();
    await waitFor(() => worker.probe.bodyErrors.length > before, "the Worker's failed read");
    assert.equal(
      worker.probe.bodyErrors.at(-1),
      "The client disconnected before sending the whole request body.",
    );
  });
});
