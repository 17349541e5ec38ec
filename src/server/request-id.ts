import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** What an incoming `X-Request-Id` may be to be kept (as Heroku and most proxies send it). */
const ACCEPTED = /^[\w.:/+=@-]{8,200}$/;

// Ids are this process's random prefix and a counter: unique across restarts, and one string
// concatenation per request instead of random bytes.
const prefix = randomBytes(6).toString("hex");
let counter = 0;

/**
 * The request's id for logs: the `X-Request-Id` a proxy in front set, when it looks like one,
 * else a new one.
 */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  if (typeof given === "string" && ACCEPTED.test(given)) return given;
  return newRequestId();
}

/** A new request id, for a request that could not even be parsed. */
export function newRequestId(): string {
  return `${prefix}${(++counter).toString(16).padStart(6, "0")}`;
}
