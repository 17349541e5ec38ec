import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { httpWorker, openRaw, rawExchange, startHttp } from "../../test/support/http-harness.ts";
import { waitFor } from "../../test/support/wait-for.ts";

// RFC 9112 cases Node's parser lets through, and what the server must answer instead.
describe("HTTP/1.1 conformance (RFC 9112)", () => {
  it("answers 400 to a request with two Host headers, without calling the Worker", async () => {
    const worker = await httpWorker();
    await using h = await startHttp();
    const before = worker.probe.started.length;
    const raw = await rawExchange(
      h.port,
      "GET /status HTTP/1.1\r\nHost: a.test\r\nhost: b.test\r\n\r\n",
    );
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(raw, /\r\nconnection: close\r\n/i);
    assert.ok(
      raw.endsWith("\r\n\r\nBad Request: the request has more than one Host header.\n"),
      raw,
    );
    assert.equal(worker.probe.started.length, before, "the Worker was not called");
  });

  it("answers 400 to a WebSocket upgrade with two Host headers, without calling the hook", async () => {
    const upgrades: string[] = [];
    await using h = await startHttp({
      upgrade: (req, socket) => {
        upgrades.push(req.url!);
        socket.destroy();
      },
    });
    const raw = await rawExchange(
      h.port,
      "GET /chat HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    );
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.deepEqual(upgrades, []);
  });

  it("answers 400 to a request line without an HTTP version", async () => {
    const worker = await httpWorker();
    await using h = await startHttp();
    const before = worker.probe.started.length;
    for (const line of ["GET /status\r\n\r\n", "GET /status\r\nHost: a.test\r\n\r\n"]) {
      const raw = await rawExchange(h.port, line);
      assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(line));
      assert.ok(
        raw.endsWith(
          "\r\n\r\nBad Request: the request line has no HTTP version (expected e.g. GET / HTTP/1.1).\n",
        ),
        raw,
      );
    }
    assert.equal(worker.probe.started.length, before, "the Worker was not called");
  });

  it("answers 505 to a request line naming HTTP/2.0", async () => {
    await using h = await startHttp();
    const raw = await rawExchange(h.port, "GET /status HTTP/2.0\r\nHost: a.test\r\n\r\n");
    assert.match(raw, /^HTTP\/1\.1 505 HTTP Version Not Supported\r\n/);
  });

  it("fails the Worker's read and answers 400 when a chunked body turns out malformed", async () => {
    const worker = await httpWorker();
    await using h = await startHttp();
    const errors = worker.probe.bodyErrors.length;
    const hashed = worker.probe.hashed;
    using client = openRaw(h.port);
    client.socket.write(
      "POST /hash HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    );
    await waitFor(() => worker.probe.hashed >= hashed + 5, "the Worker to read the first chunk");
    client.socket.write("zz\r\nnot a chunk\r\n");
    const raw = await client.closed;
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(raw, /\r\nconnection: close\r\n/i);
    assert.match(raw, /\r\n\r\nBad Request: malformed request body \(.+\)\.\n$/);
    await waitFor(() => worker.probe.bodyErrors.length > errors, "the Worker's failed read");
    assert.match(worker.probe.bodyErrors.at(-1)!, /^The request body is malformed: /);
    const record = await h.record("/hash");
    assert.equal(record.status, 400);
    assert.match(record.error ?? "", /malformed request body/);
  });

  it("cuts the connection when a body turns out malformed after the response started", async () => {
    const worker = await httpWorker();
    await using h = await startHttp();
    using client = openRaw(h.port);
    // /echo streams the body back: its response starts with the first chunk.
    client.socket.write(
      "POST /echo HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    );
    await waitFor(() => client.received().includes("hello"), "the echoed first chunk");
    client.socket.write("zz\r\n");
    const raw = await client.closed;
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(!raw.includes("400 Bad Request"), "no second status line inside the first response");
    assert.ok(worker.probe.started.includes("/echo"));
  });
});
