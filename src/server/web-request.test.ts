import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rawExchange, request, startHttp } from "../../test/support/http-harness.ts";

/** The JSON body of a raw HTTP/1.x response that the server closes after. */
function bodyOf(raw: string): any {
  return JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4));
}

describe("the Request a Worker sees", () => {
  it("has the URL from the Host header and the path and query as sent", async () => {
    await using h = await startHttp();
    const res = await request(`${h.url}/info?a=1&b=%20x#frag`, {
      headers: { host: "app.example.com:8080" },
    });
    const info = JSON.parse(res.body.toString());
    assert.equal(info.url, "http://app.example.com:8080/info?a=1&b=%20x");
    assert.equal(info.method, "GET");
  });

  it("ignores X-Forwarded-* headers when building the URL", async () => {
    await using h = await startHttp();
    const res = await request(`${h.url}/info`, {
      headers: {
        host: "app.example.com",
        "x-forwarded-proto": "https",
        "x-forwarded-host": "evil.example",
      },
    });
    const info = JSON.parse(res.body.toString());
    assert.equal(info.url, "http://app.example.com/info");
    // They stay visible as headers: the Worker decides whether to trust them.
    assert.ok(info.headers.some(([name]: string[]) => name === "x-forwarded-host"));
  });

  it("uses the listening address when an HTTP/1.0 client sends no Host", async () => {
    await using h = await startHttp();
    const raw = await rawExchange(h.port, "GET /info HTTP/1.0\r\n\r\n");
    assert.equal(bodyOf(raw).url, `http://127.0.0.1:${h.port}/info`);
  });

  it("keeps a path that starts with two slashes a path", async () => {
    await using h = await startHttp();
    const raw = await rawExchange(
      h.port,
      "GET //info HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
    );
    assert.equal(bodyOf(raw).url, "http://app.test//info");
  });

  it("accepts an absolute-form request target", async () => {
    await using h = await startHttp();
    const raw = await rawExchange(
      h.port,
      "GET http://other.test/info?q=1 HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
    );
    assert.equal(bodyOf(raw).url, "http://other.test/info?q=1");
  });

  it("answers 400 when the Host header cannot be part of a URL", async () => {
    await using h = await startHttp();
    const raw = await rawExchange(h.port, "GET /info HTTP/1.1\r\nHost: a b\r\n\r\n");
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(
      raw,
      /\r\n\r\nBad Request: the request target and Host header do not form a valid URL\.\n$/,
    );
  });

  it("leaves out the headers about the client's connection, so the request can be forwarded", async () => {
    await using h = await startHttp();
    const raw = await rawExchange(
      h.port,
      "POST /info HTTP/1.1\r\nHost: app.test\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n" +
        "Expect: 100-continue\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    const info = bodyOf(raw.slice(raw.indexOf("HTTP/1.1 200")));
    assert.deepEqual(info.headers, [
      ["cf-connecting-ip", "127.0.0.1"],
      ["connection", "close"],
      ["host", "app.test"],
    ]);
    assert.equal(info.body, "hello");
  });

  it("carries every header, repeated ones joined as fetch joins them, and sets CF-Connecting-IP to the client's address (never the client's own value)", async () => {
    await using h = await startHttp();
    const raw = await rawExchange(
      h.port,
      "POST /info HTTP/1.1\r\nHost: app.test\r\nX-Tag: one\r\nCookie: a=1\r\nX-Tag: two\r\n" +
        "CF-Connecting-IP: 6.6.6.6\r\n" +
        "Content-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    const info = bodyOf(raw);
    assert.deepEqual(info.headers, [
      ["cf-connecting-ip", "127.0.0.1"],
      ["connection", "close"],
      ["content-length", "5"],
      ["content-type", "text/plain"],
      ["cookie", "a=1"],
      ["host", "app.test"],
      ["x-tag", "one, two"],
    ]);
    assert.equal(info.body, "hello");
  });
});
