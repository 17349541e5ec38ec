import type { IncomingMessage } from "node:http";
import { badRequestReply, type ErrorReply, versionNotSupportedReply } from "./error-reply.ts";

/**
 * What RFC 9112 requires a server to refuse that Node's parser (llhttp) lets through: a request
 * line without an HTTP version (llhttp reads it as HTTP/0.9), a version other than 1.x, and more
 * than one Host header field (§3.2: 400). A missing Host in HTTP/1.1 is already answered 400 by
 * Node (`requireHostHeader`, on by default); malformed syntax fails in llhttp itself. Returns the
 * answer to send, or undefined when the request may be served.
 */
export function protocolProblem(req: IncomingMessage): ErrorReply | undefined {
  if (req.httpVersionMajor !== 1) {
    return req.httpVersionMajor === 0
      ? badRequestReply("the request line has no HTTP version (expected e.g. GET / HTTP/1.1)")
      : versionNotSupportedReply(req.httpVersion);
  }
  // Node keeps only the first of several Host fields in `headers`; the raw list has them all.
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === "host" && ++hosts > 1) {
      return badRequestReply("the request has more than one Host header");
    }
  }
  return undefined;
}
