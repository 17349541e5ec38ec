// `request.cf` under `stead start`: what the connection says, and, with --cf-location-headers,
// the visitor's location from the headers a proxy in front sets, on plain requests and on
// WebSocket upgrades (an app such as Cloudflare's multiplayer globe places visitors by it).
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const WORKER = `
export default {
  fetch(request) {
    if (request.headers.get("Upgrade") !== "websocket") return Response.json(request.cf);
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.send(JSON.stringify(request.cf));
    return new Response(null, { status: 101, webSocket: client });
  },
};
`;

const PROXY_HEADERS = {
  "CF-IPCountry": "DE",
  "CF-IPCity": "Frankfurt am Main",
  "CF-IPContinent": "EU",
  "CF-IPLatitude": "50.11090",
  "CF-IPLongitude": "8.68213",
  "CF-Region": "Hesse",
  "CF-Region-Code": "HE",
  "CF-Postal-Code": "60311",
  "CF-Timezone": "Europe/Berlin",
  "CF-Ray": "8f1d2c3b4a5e6f70-FRA",
};

async function cfOverWebSocket(url: string): Promise<Record<string, unknown>> {
  const { WebSocket } = await import("ws");
  const socket = new WebSocket(url.replace(/^http/, "ws"), { headers: PROXY_HEADERS });
  const [message] = await new Promise<[Buffer]>((resolve, reject) => {
    socket.once("message", (...args) => resolve(args as unknown as [Buffer]));
    socket.once("error", reject);
  });
  socket.close();
  return JSON.parse(String(message));
}

describe("request.cf under stead start", () => {
  it("takes the visitor's location from a proxy's headers only with --cf-location-headers", async () => {
    using app = tempDataDir("stead-app-");
    writeFileSync(join(app.path, "wrangler.jsonc"), '{ "main": "index.js" }');
    writeFileSync(join(app.path, "index.js"), WORKER);
    writeFileSync(join(app.path, "package.json"), '{ "type": "module" }');

    using store = testStore();
    await using plain = await startStead("start", [app.path, "--threads", "0"], { store });
    const direct = await (await fetch(plain.url, { headers: PROXY_HEADERS })).json();
    assert.equal(direct.httpProtocol, "HTTP/1.1");
    assert.equal(direct.country, undefined, "no location from headers unless asked");
    await plain.stop();

    await using proxied = await startStead(
      "start",
      [app.path, "--threads", "0", "--cf-location-headers"],
      { store },
    );
    const expected = {
      country: "DE",
      city: "Frankfurt am Main",
      continent: "EU",
      latitude: "50.11090",
      longitude: "8.68213",
      region: "Hesse",
      regionCode: "HE",
      postalCode: "60311",
      timezone: "Europe/Berlin",
      colo: "FRA",
    };
    const cf = await (await fetch(proxied.url, { headers: PROXY_HEADERS })).json();
    const { httpProtocol, clientAcceptEncoding, requestPriority, ...location } = cf;
    assert.equal(httpProtocol, "HTTP/1.1");
    assert.deepEqual(location, expected);
    const upgraded = await cfOverWebSocket(proxied.url);
    assert.equal(upgraded.latitude, "50.11090");
    assert.equal(upgraded.colo, "FRA");
    // Headers a proxy did not set leave their fields absent.
    const partial = await (await fetch(proxied.url, { headers: { "CF-IPCountry": "FR" } })).json();
    assert.equal(partial.country, "FR");
    assert.equal("city" in partial, false);
  });
});
