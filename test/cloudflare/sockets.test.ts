// cloudflare:sockets against TCP servers this test starts: plain, TLS and STARTTLS, with a
// self-signed certificate made by openssl.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as tls from "node:tls";
import { createRuntime } from "../../src/index.ts";
import { storageOptions } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const WORKER = new URL("../fixtures/sockets-worker.ts", import.meta.url);

/** Answers each line with "echo: <line>". */
function echoLines(socket: Socket | tls.TLSSocket): void {
  let buffered = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buffered += chunk;
    for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
      socket.write(`echo: ${buffered.slice(0, i)}\n`);
      buffered = buffered.slice(i + 1);
    }
  });
}

async function listen(server: Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

describe("cloudflare:sockets connect()", () => {
  const dir = tempDataDir("stead-tls-");
  let key: Buffer;
  let cert: Buffer;
  const servers: Server[] = [];
  const defaultCAs = tls.getCACertificates("default");

  before(() => {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-keyout",
        join(dir.path, "key.pem"),
        "-out",
        join(dir.path, "cert.pem"),
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost",
      ],
      { stdio: "ignore" },
    );
    key = readFileSync(join(dir.path, "key.pem"));
    cert = readFileSync(join(dir.path, "cert.pem"));
    // The Worker trusts the test's certificate as it would a public one.
    tls.setDefaultCACertificates([...defaultCAs, cert.toString()]);
  });

  after(() => {
    tls.setDefaultCACertificates(defaultCAs);
    for (const server of servers) server.close();
    dir[Symbol.dispose]();
  });

  it("talks to a plain TCP server over web streams", async () => {
    const server = createServer(echoLines);
    servers.push(server);
    const port = await listen(server);
    await using rt = await createRuntime({ main: WORKER, ...storageOptions() });
    const body = await (await rt.fetch(`http://x/?port=${port}`)).json();
    assert.deepEqual(body, {
      reply: "echo: hello\n",
      remote: `127.0.0.1:${port}`,
      hasLocal: true,
      upgraded: false,
    });
  });

  it("connects with TLS from the start (secureTransport: on)", async () => {
    const server = tls.createServer({ key, cert }, echoLines);
    servers.push(server);
    const port = await listen(server);
    await using rt = await createRuntime({ main: WORKER, ...storageOptions() });
    const body = await (await rt.fetch(`http://x/?port=${port}&mode=on`)).json();
    assert.equal(body.reply, "echo: hello\n");
  });

  it("upgrades a plain connection with startTls()", async () => {
    const server = createServer((socket) => {
      socket.once("data", (chunk) => {
        assert.equal(chunk.toString(), "STARTTLS\n");
        socket.write("GO\n", () => {
          const secure = new tls.TLSSocket(socket, { isServer: true, key, cert });
          echoLines(secure);
        });
      });
    });
    servers.push(server);
    const port = await listen(server);
    await using rt = await createRuntime({ main: WORKER, ...storageOptions() });
    const body = await (await rt.fetch(`http://x/?port=${port}&mode=starttls`)).json();
    assert.equal(body.reply, "echo: hello\n");
    assert.equal(body.upgraded, true);
  });

  it("fails with Cloudflare's text when nothing listens", async () => {
    const server = createServer();
    const port = await listen(server);
    server.close();
    await using rt = await createRuntime({ main: WORKER, ...storageOptions() });
    const response = await rt.fetch(`http://x/?port=${port}`);
    assert.equal(response.status, 502);
    assert.deepEqual(await response.json(), {
      error: "proxy request failed, cannot connect to the specified address",
    });
  });

  it("refuses bad addresses and options with Cloudflare's TypeErrors", async () => {
    const { connect } = await import("cloudflare:sockets");
    assert.throws(() => connect("localhost"), { message: "Specified address is missing port." });
    assert.throws(() => connect({ hostname: "a b", port: 1 }), {
      message: "Specified address is empty string, contains unsupported characters or is too long.",
    });
    assert.throws(() => connect("localhost:1", { secureTransport: "maybe" as never }), {
      message: "Unsupported value in secureTransport socket option: maybe",
    });
    const socket = connect("localhost:1");
    assert.throws(() => socket.startTls(), {
      message:
        "The `secureTransport` socket option must be set to 'starttls' for startTls to be used.",
    });
    await socket.close();
  });
});
