import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";

/**
 * The header `stead dev` reads fields of `request.cf` from, as JSON (for trying geo-dependent
 * code locally): `X-Stead-Cf: {"country":"DE","colo":"FRA"}`. `stead start` ignores it; the
 * Worker never sees it either way.
 */
export const CF_OVERRIDE_HEADER = "x-stead-cf";

/**
 * The visitor location headers Cloudflare's proxy adds in front of an origin (`CF-IPCountry`,
 * and the rest with the "Add visitor location headers" managed transform), by the `request.cf`
 * field each gives; proxies such as nginx with a GeoIP module can set the same headers.
 */
const LOCATION_HEADERS: ReadonlyArray<readonly [header: string, field: string]> = [
  ["cf-ipcountry", "country"],
  ["cf-ipcontinent", "continent"],
  ["cf-ipcity", "city"],
  ["cf-iplatitude", "latitude"],
  ["cf-iplongitude", "longitude"],
  ["cf-region", "region"],
  ["cf-region-code", "regionCode"],
  ["cf-metro-code", "metroCode"],
  ["cf-postal-code", "postalCode"],
  ["cf-timezone", "timezone"],
];

/** Where fields of `request.cf` may come from besides the connection. */
export interface RequestCfSources {
  /** Merge the fields of the `X-Stead-Cf` header (`stead dev`). */
  readonly override: boolean;
  /**
   * Take the visitor's location from the headers of a proxy in front (`LOCATION_HEADERS`), and
   * `colo` from `CF-Ray`'s suffix. Only safe when every request comes through a proxy that sets
   * or removes these headers: a client could otherwise choose its own location.
   */
  readonly locationHeaders: boolean;
}

/**
 * `request.cf` for a request this server received: the fields one host can know about the
 * client's connection, plus the location a trusted proxy gave (`sources.locationHeaders`).
 * Otherwise Cloudflare's edge fields (`colo`, `country`, `city`, `asn`, `botManagement`, ...)
 * are absent; docs/compatibility.md lists what is there. With `sources.override` (`stead dev`),
 * the fields of the `X-Stead-Cf` header are merged in; a header that is not a JSON object throws
 * a TypeError saying so.
 */
export function requestCf(
  req: IncomingMessage,
  sources: RequestCfSources,
): Record<string, unknown> {
  const cf: Record<string, unknown> = {
    httpProtocol: `HTTP/${req.httpVersion}`,
    clientAcceptEncoding: req.headers["accept-encoding"] ?? "",
    requestPriority: "",
  };
  const socket = req.socket as Partial<TLSSocket>;
  if (socket.encrypted === true) {
    cf.tlsVersion = socket.getProtocol?.() ?? "";
    cf.tlsCipher = socket.getCipher?.()?.standardName ?? "";
  }
  if (sources.locationHeaders) addLocation(cf, req.headers);
  const override = req.headers[CF_OVERRIDE_HEADER];
  if (sources.override && typeof override === "string") Object.assign(cf, parseOverride(override));
  return cf;
}

function addLocation(cf: Record<string, unknown>, headers: IncomingMessage["headers"]): void {
  for (const [header, field] of LOCATION_HEADERS) {
    const value = headers[header];
    if (typeof value === "string" && value !== "") cf[field] = value;
  }
  // `CF-Ray: 8f1d2c3b4a5e6f70-FRA`: the data center that took the request.
  const colo = /-([A-Z]{3})$/.exec(String(headers["cf-ray"] ?? ""))?.[1];
  if (colo !== undefined) cf.colo = colo;
}

function parseOverride(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(
      `the ${CF_OVERRIDE_HEADER} header must be a JSON object of request.cf fields, such as {"country":"DE"}`,
    );
  }
  return value as Record<string, unknown>;
}
