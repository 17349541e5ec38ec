import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openRaw, type RawConnection, startHttp } from "../../test/support/http-harness.ts";
import { waitFor } from "../../test/support/wait-for.ts";

const REQUEST = "GET /status HTTP/1.1\r\nHost: a.test\r\n\r\n";
/** A response to REQUEST, whole: /status answers "teapot". */
const TEAPOT = /^HTTP\/1\.1 418 [\s\S]*\r\n\r\nteapot$/;

describe("connection cap", () => {
  it("answers 503 over the cap while slow clients hold it, keeps serving those it holds, and warns once", async () => {
    const warnings: string[] = [];
    await using h = await startHttp({ maxConnections: 3, warn: (m) => warnings.push(m) });
    const open: RawConnection[] = [];
    try {
      // One kept-alive client that was served, and two slow clients halfway through headers.
      const served = openRaw(h.port);
      open.push(served);
      served.socket.write(REQUEST);
      await waitFor(() => TEAPOT.test(served.received()), "the first response");
      for (let i = 0; i < 2; i++) {
        const slow = openRaw(h.port);
        open.push(slow);
        await slow.connected;
        slow.socket.write("GET /status HTTP/1.1\r\nHost: a.test\r\n");
      }
      await waitFor(() => h.server.connections === 3, "the server to hold three connections");

      // Over the cap: answered at once, whatever the client sends or does not send.
      const refused = [openRaw(h.port), openRaw(h.port), openRaw(h.port)];
      open.push(...refused);
      refused[0]!.socket.write(REQUEST);
      for (const client of refused) {
        const raw = await client.closed;
        assert.match(raw, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
        assert.match(raw, /\r\nConnection: close\r\n/);
        assert.ok(
          raw.endsWith(
            "\r\n\r\nService Unavailable: this server already holds its maximum of 3 open connections. Retry later.\n",
          ),
          raw,
        );
      }
      assert.ok(!h.records.some((r) => r.status === 503), "no refused request reached the Worker");

      // The connections it holds are served as before: the kept-alive one and the slow ones.
      const before = served.received().length;
      served.socket.write(REQUEST);
      await waitFor(() => TEAPOT.test(served.received().slice(before)), "the second response");
      open[1]!.socket.write("\r\n");
      await waitFor(() => TEAPOT.test(open[1]!.received()), "the slow client's response");

      assert.equal(warnings.length, 1, warnings.join("\n"));
      assert.match(
        warnings[0]!,
        /^Refusing new connections with 503: this server holds its maximum of 3 open connections\. Raise --max-connections \/ STEAD_MAX_CONNECTIONS/,
      );

      // A closed connection frees its place.
      open[2]!.socket.destroy();
      await waitFor(() => h.server.connections === 2, "the slow client's connection to close");
      using next = openRaw(h.port);
      next.socket.write(REQUEST);
      await waitFor(() => TEAPOT.test(next.received()), "a new connection to be served");
    } finally {
      for (const client of open) client.socket.destroy();
    }
  });

  it("takes a positive integer cap, and rejects anything else", async () => {
    await using h = await startHttp({ maxConnections: 1 });
    assert.equal(h.server.connections, 0);
    await assert.rejects(startHttp({ maxConnections: 0 }), /maxConnections/);
  });
});
