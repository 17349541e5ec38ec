import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";

/**
 * The header `stead dev` reads fields of `request.cf` from, as JSON (for trying geo-dependent
 * code locally): `X-Stead-Cf: {"country":"DE","colo":"FRA"}`. `stead start` ignores it; the
 * Worker never sees it either way.
 */
export const CF_OVERRIDE_HEADER = "x-stead-cf";

/**
 * `request.cf` for a request this server received: the fields one host can know about the
 * client's connection. Cloudflare's edge fields (`colo`, `country`, `city`, `asn`,
 * `botManagement`, ...) are absent; docs/compatibility.md lists what is there.
 * With `allowOverride` (`stead dev`), the fields of the `X-Stead-Cf` header are merged in;
 * a header that is not a JSON object throws a TypeError saying so.
 */
export function requestCf(req: IncomingMessage, allowOverride: boolean): Record<string, unknown> {
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
  const override = req.headers[CF_OVERRIDE_HEADER];
  if (allowOverride && typeof override === "string") Object.assign(cf, parseOverride(override));
  return cf;
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
