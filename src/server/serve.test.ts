import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import { describe, it } from "node:test";
import { createRuntime, SteadError } from "../../src/index.ts";
import {
  HTTP_WORKER,
  httpWorker,
  rawExchange,
  request,
  startHttp,
} from "../../test/support/http-harness.ts";
import { waitFor } from "../../test/support/wait-for.ts";
import { serve } from "./serve.ts";

function refused(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe("serve", () => {
  it("listens on a free port and reports its address", async () => {
    await using h = await startHttp();
    assert.equal(h.server.address.host, "127.0.0.1");
    assert.ok(h.server.address.port > 0);
    assert.equal(h.server.address.url, `http://127.0.0.1:${h.server.address.port}`);
    const res = await request(`${h.url}/status`);
    assert.equal(res.status, 418);
  });

  it("rejects invalid options, naming them", async () => {
    await using rt = await createRuntime({
      main: await import(HTTP_WORKER.href),
      durableObjects: { BLOCKER: "Blocker" },
    });
    await assert.rejects(
      serve(rt, { port: 70000, maxBodyBytes: -1, colour: true } as never),
      (error: unknown) => {
        assert.ok(error instanceof SteadError);
        assert.equal(error.code, "INVALID_CONFIG");
        assert.match(error.message, /^Invalid serve\(\) options:/);
        assert.match(error.message, /port: must be a TCP port: 0 to 65535/);
        assert.match(error.message, /maxBodyBytes/);
        assert.match(error.message, /colour/);
        return true;
      },
    );
  });

  it("explains a port that is already in use", async () => {
    await using h = await startHttp();
    await assert.rejects(serve(h.runtime, { port: h.port }), (error: Error & { code?: string }) => {
      assert.equal(error.code, "EADDRINUSE");
      assert.equal(
        error.message,
        `Cannot listen on 127.0.0.1:${h.port}: the port is already in use. Stop the other server, or choose another port.`,
      );
      return true;
    });
  });

  it("serves several requests over one kept-alive connection", async () => {
    await using h = await startHttp();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await request(`${h.url}/status`, { agent });
      const second = await request(`${h.url}/info`, { agent, method: "POST", body: "x" });
      const third = await request(`${h.url}/cookies`, { agent });
      assert.equal(first.headers.connection, "keep-alive");
      assert.deepEqual(
        [second.reusedSocket, third.reusedSocket],
        [true, true],
        "the later requests reused the first connection",
      );
      assert.equal(second.localPort, first.localPort);
      assert.equal(third.localPort, first.localPort);
      assert.equal(JSON.parse(second.body.toString()).body, "x");
    } finally {
      agent.destroy();
    }
  });

  it("logs one record per request, with its id", async () => {
    await using h = await startHttp();
    await request(`${h.url}/status?x=1`, { method: "GET" });
    const record = await h.record("/status?x=1");
    assert.deepEqual(Object.keys(record).sort(), [
      "bytes",
      "durationMs",
      "method",
      "path",
      "requestId",
      "status",
    ]);
    assert.match(record.requestId, /^[0-9a-f]{18}$/);
    // A proxy's X-Request-Id is kept; one that does not look like an id is replaced.
    await request(`${h.url}/status?x=2`, { headers: { "x-request-id": "req-7f3a9c21-proxy" } });
    assert.equal((await h.record("/status?x=2")).requestId, "req-7f3a9c21-proxy");
    await request(`${h.url}/status?x=3`, { headers: { "x-request-id": "a b" } });
    const made = (await h.record("/status?x=3")).requestId;
    assert.match(made, /^[0-9a-f]{18}$/);
    assert.notEqual(made, record.requestId);
    assert.equal(record.method, "GET");
    assert.equal(record.status, 418);
    assert.equal(record.bytes, 6);
    assert.ok(record.durationMs >= 0 && record.durationMs < 5000);
  });

  it("answers 500 with a short text when the Worker throws, logs the error, and keeps serving", async () => {
    await using h = await startHttp();
    const res = await request(`${h.url}/throw`);
    assert.equal(res.status, 500);
    assert.equal(res.headers["content-type"], "text/plain; charset=utf-8");
    assert.equal(
      res.body.toString(),
      "Internal Server Error: the Worker threw an exception. The server log has the details.\n",
    );
    const record = await h.record("/throw");
    assert.equal(record.status, 500);
    assert.match(record.error ?? "", /^Error: boom from the Worker\n {4}at /);
    assert.equal((await request(`${h.url}/status`)).status, 418);
  });

  it("answers 500 when the Worker returns something other than a Response", async () => {
    await using h = await startHttp();
    const res = await request(`${h.url}/not-a-response`);
    assert.equal(res.status, 500);
    assert.equal(
      res.body.toString(),
      "Internal Server Error: the Worker's fetch handler returned a string instead of a Response.\n",
    );
  });

  it("maps an overloaded object to 503 with Stead's message", async () => {
    const worker = await httpWorker();
    await using h = await startHttp({}, { objects: { maxQueuedEvents: 1 } });
    const blocking = worker.probe.blocking;
    const holder = request(`${h.url}/blocker?block`);
    await waitFor(() => worker.probe.blocking > blocking, "the object to close its input gate");
    // One of these two waits in the object's queue; the other finds the queue full.
    const queued = [request(`${h.url}/blocker?n=1`), request(`${h.url}/blocker?n=2`)];
    const first = await Promise.race(queued);
    assert.equal(first.status, 503);
    assert.equal(
      first.body.toString(),
      "Durable Object is overloaded. Too many requests queued.\n",
    );
    worker.release();
    const rest = await Promise.all([holder, ...queued]);
    assert.deepEqual(
      rest.map((r) => r.status).sort(),
      [200, 200, 503],
      "the holder and the queued request complete",
    );
  });

  it("answers 501 when the Worker accepts a WebSocket and the server has no upgrade hook", async () => {
    await using h = await startHttp();
    const res = await request(`${h.url}/websocket`, {
      headers: { connection: "upgrade", upgrade: "websocket" },
    });
    assert.equal(res.status, 501);
    assert.equal(
      res.body.toString(),
      "Not Implemented: the Worker accepted a WebSocket, but this server was started without WebSocket support.\n",
    );
  });

  it("hands WebSocket upgrades to the upgrade hook and other Upgrade requests to the Worker", async () => {
    const upgrades: string[] = [];
    await using h = await startHttp({
      upgrade: (req, socket) => {
        upgrades.push(req.url!);
        socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope");
      },
    });
    const ws = await rawExchange(
      h.port,
      "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    );
    assert.match(ws, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.deepEqual(upgrades, ["/chat"]);
    const h2c = await request(`${h.url}/info`, {
      headers: { connection: "Upgrade, HTTP2-Settings", upgrade: "h2c", "http2-settings": "" },
    });
    assert.equal(h2c.status, 200);
    assert.equal(JSON.parse(h2c.body.toString()).method, "GET");
    assert.deepEqual(upgrades, ["/chat"]);
  });

  it("answers 500 when the upgrade hook throws", async () => {
    await using h = await startHttp({
      upgrade: () => {
        throw new Error("hook failed");
      },
    });
    const raw = await rawExchange(
      h.port,
      "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    );
    assert.match(raw, /^HTTP\/1\.1 500 Internal Server Error\r\n/);
    assert.match(raw, /the WebSocket upgrade failed/);
    assert.match((await h.record("/chat")).error ?? "", /hook failed/);
  });

  it("answers 431 with a clear body when the headers are too large", async () => {
    await using h = await startHttp({ maxHeaderBytes: 4096 });
    const raw = await rawExchange(
      h.port,
      `GET /status HTTP/1.1\r\nHost: a\r\nX-Big: ${"a".repeat(5000)}\r\n\r\n`,
    );
    assert.match(raw, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    assert.ok(
      raw.endsWith(
        "\r\n\r\nRequest Header Fields Too Large: the request line and headers exceed this server's limit of 4096 bytes.\n",
      ),
      raw,
    );
    const ok = await request(`${h.url}/status`, { headers: { "x-fine": "a".repeat(3000) } });
    assert.equal(ok.status, 418);
  });

  it("answers 400 to a request that is not HTTP", async () => {
    await using h = await startHttp();
    const raw = await rawExchange(h.port, "HELLO THERE\r\n\r\n");
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(raw, /\r\n\r\nBad Request: malformed HTTP request \(.+\)\.\n$/);
  });

  it("answers 405 to TRACE, which no Request can carry", async () => {
    await using h = await startHttp();
    const res = await request(`${h.url}/info`, { method: "TRACE" });
    assert.equal(res.status, 405);
    assert.equal(res.body.toString(), "Method Not Allowed: TRACE requests are not supported.\n");
  });

  it("survives a log sink that throws", async () => {
    await using h = await startHttp({
      log: () => {
        throw new Error("sink broke");
      },
    });
    assert.equal((await request(`${h.url}/status`)).status, 418);
    assert.equal((await request(`${h.url}/throw`)).status, 500);
  });

  it("lets a Worker fetch from another local server", async () => {
    const upstream = http.createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => res.end(`${req.method} ${body}`));
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    try {
      await using h = await startHttp();
      const { port } = upstream.address() as net.AddressInfo;
      const res = await request(`${h.url}/fetch-text?to=http://127.0.0.1:${port}/x`);
      assert.equal(res.body.toString(), "upstream said 200 POST ping");
    } finally {
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });

  it("lets a Worker forward its incoming request, streamed body included, with fetch", async () => {
    const upstream = http.createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => res.end(`${req.method} ${req.headers["x-app"]} ${body}`));
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    try {
      await using h = await startHttp();
      const { port } = upstream.address() as net.AddressInfo;
      const res = await new Promise<string>((resolve, reject) => {
        const req = http.request(
          `${h.url}/forward?to=http://127.0.0.1:${port}/`,
          { method: "PUT", headers: { "x-app": "yes", "transfer-encoding": "chunked" } },
          (response) => {
            let text = "";
            response.on("data", (chunk) => (text += chunk));
            response.on("end", () => resolve(`${response.statusCode} ${text}`));
          },
        );
        req.on("error", reject);
        req.write("streamed ");
        req.end("body");
      });
      assert.equal(res, "200 PUT yes streamed body");
    } finally {
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });

  it("proxies an upstream gzip response that fetch decoded, re-encoding it", async () => {
    const { gzipSync, gunzipSync } = await import("node:zlib");
    const text = "proxied ".repeat(500);
    const upstream = http.createServer((_req, res) => {
      res.writeHead(200, { "content-encoding": "gzip", "content-type": "text/plain" });
      res.end(gzipSync(text));
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    try {
      await using h = await startHttp();
      const { port } = upstream.address() as net.AddressInfo;
      const res = await request(`${h.url}/proxy?to=http://127.0.0.1:${port}/`);
      assert.equal(res.headers["content-encoding"], "gzip");
      assert.equal(gunzipSync(res.body).toString(), text);
    } finally {
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });
});

describe("close", () => {
  it("stops accepting, closes idle connections, and lets an in-flight request finish", async () => {
    const worker = await httpWorker();
    await using h = await startHttp();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let idleSocket: net.Socket | undefined;
    agent.on("free", (socket) => (idleSocket = socket));
    await request(`${h.url}/status`, { agent });
    await waitFor(() => idleSocket !== undefined, "the kept-alive socket to be idle");

    const started = worker.probe.started.length;
    const inFlight = request(`${h.url}/hold?n=1`);
    await waitFor(() => worker.probe.started.length > started, "the Worker to start");
    let closed = false;
    const closing = h.server.close({ deadlineMs: 30_000 }).then(() => (closed = true));

    await waitFor(() => idleSocket!.destroyed, "the idle connection to close");
    assert.equal(await refused(h.port), "ECONNREFUSED");
    assert.equal(closed, false);

    worker.release();
    const res = await inFlight;
    assert.equal(res.body.toString(), "released 1");
    assert.equal(res.headers.connection, "close");
    await closing;
    assert.equal(closed, true);
    agent.destroy();
  });

  it("lets a response that was streaming when close began finish, then closes its connection", async () => {
    const worker = await httpWorker();
    await using h = await startHttp();
    const res = await new Promise<http.IncomingMessage>((resolve) =>
      http.get(`${h.url}/slow-stream`, { agent: new http.Agent({ keepAlive: true }) }, resolve),
    );
    assert.equal(res.headers.connection, "keep-alive");
    let body = "";
    res.on("data", (chunk) => (body += chunk));
    const ended = new Promise((resolve) => res.on("end", resolve));
    const socketClosed = new Promise((resolve) => res.socket.on("close", resolve));
    await waitFor(() => body === "first;", "the first chunk");
    const closing = h.server.close({ deadlineMs: 30_000 });
    worker.release();
    await ended;
    assert.equal(body, "first;second");
    await socketClosed;
    await closing;
  });

  it("tells the upgrade hook it is closing, and cuts upgraded sockets left open at the deadline", async () => {
    const sockets: Duplex[] = [];
    await using h = await startHttp({
      upgrade: (req, socket, _head, closing) => {
        socket.write(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n",
        );
        sockets.push(socket);
        // The polite connection says goodbye when told; the other ignores the signal.
        if (req.url === "/polite") closing.addEventListener("abort", () => socket.end("bye"));
      },
    });
    const connect = (path: string) =>
      new Promise<{ received: () => string; closed: Promise<void> }>((resolve) => {
        const socket = net.connect(h.port, "127.0.0.1");
        let text = "";
        const closed = new Promise<void>((done) => socket.on("close", () => done()));
        socket.on("data", (chunk) => {
          text += chunk;
          if (text.includes("\r\n\r\n")) resolve({ received: () => text, closed });
        });
        socket.on("error", () => {});
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
        );
      });
    const polite = await connect("/polite");
    const stubborn = await connect("/stubborn");
    assert.equal(h.server.closing.aborted, false);
    await h.server.close({ deadlineMs: 50 });
    assert.equal(h.server.closing.aborted, true);
    await Promise.all([polite.closed, stubborn.closed]);
    assert.ok(polite.received().endsWith("bye"));
    assert.ok(!stubborn.received().endsWith("bye"));
    assert.ok(sockets.every((socket) => socket.destroyed));
  });

  it("cuts requests still running at the deadline, aborting their signal", async () => {
    const worker = await httpWorker();
    await using h = await startHttp();
    const started = worker.probe.started.length;
    const inFlight = request(`${h.url}/wait-for-abort`).then(
      () => "answered",
      (error: Error) => error.message,
    );
    await waitFor(() => worker.probe.started.length > started, "the Worker to start");
    await h.server.close({ deadlineMs: 20 });
    assert.equal(await inFlight, "socket hang up");
    await waitFor(
      () => worker.probe.aborted.some((a) => a.path === "/wait-for-abort"),
      "the Worker to see the abort",
    );
    assert.equal((await h.record("/wait-for-abort")).status, 499);
  });
});
