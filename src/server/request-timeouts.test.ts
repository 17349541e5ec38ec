import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { httpWorker, openRaw, startHttp } from "../../test/support/http-harness.ts";
import { waitFor } from "../../test/support/wait-for.ts";

// Short configured timeouts; each wait is for an event, with waitFor's deadline as the bound.
describe("request timeouts", () => {
  it("answers 408 and closes when the headers do not arrive within headersTimeoutMs", async () => {
    await using h = await startHttp({ headersTimeoutMs: 200 });
    using partial = openRaw(h.port);
    partial.socket.write("GET /status HTTP/1.1\r\nHost: a.test\r\n");
    using silent = openRaw(h.port);
    const started = performance.now();
    const raw = await partial.closed;
    assert.match(raw, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.ok(raw.endsWith("\r\n\r\nRequest Timeout: the request was not received in time.\n"));
    // A connection that never sends a byte is closed too.
    await silent.closed;
    assert.ok(performance.now() - started < 5000, "closed within the timeout and its check");
  });

  it("fails the Worker's read and answers 408 when the body stops arriving", async () => {
    const worker = await httpWorker();
    await using h = await startHttp({ bodyIdleTimeoutMs: 200 });
    const errors = worker.probe.bodyErrors.length;
    const hashed = worker.probe.hashed;
    using client = openRaw(h.port);
    client.socket.write(
      "POST /hash HTTP/1.1\r\nHost: a.test\r\nContent-Length: 100\r\n\r\n0123456789",
    );
    await waitFor(() => worker.probe.hashed >= hashed + 10, "the Worker to read the first bytes");
    const raw = await client.closed;
    assert.match(raw, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.match(raw, /\r\nconnection: close\r\n/i);
    assert.ok(
      raw.endsWith("\r\n\r\nRequest Timeout: no request body bytes arrived for 200 ms.\n"),
      raw,
    );
    await waitFor(() => worker.probe.bodyErrors.length > errors, "the Worker's failed read");
    assert.equal(
      worker.probe.bodyErrors.at(-1),
      "The client sent no request body bytes for 200 ms; the server closed the connection.",
    );
    const record = await h.record("/hash");
    assert.equal(record.status, 408);
    assert.match(record.error ?? "", /no request body bytes for 200 ms/);
  });

  it("cuts a connection whose unread body stops arriving after the response", async () => {
    await using h = await startHttp({ bodyIdleTimeoutMs: 200 });
    using client = openRaw(h.port);
    client.socket.write(
      "POST /ignore-body HTTP/1.1\r\nHost: a.test\r\nContent-Length: 100\r\n\r\n0123456789",
    );
    const raw = await client.closed;
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nignored$/);
  });

  it("takes timeouts in range, and refuses others, naming them", async () => {
    await using h = await startHttp({ headersTimeoutMs: 300_000, bodyIdleTimeoutMs: 0 });
    assert.ok(h.port > 0);
    await assert.rejects(startHttp({ headersTimeoutMs: 300_001 }), /headersTimeoutMs/);
    await assert.rejects(startHttp({ headersTimeoutMs: 0 }), /headersTimeoutMs/);
    await assert.rejects(startHttp({ bodyIdleTimeoutMs: -1 }), /bodyIdleTimeoutMs/);
  });
});
