import type { IncomingMessage, ServerResponse } from "node:http";
import { describeError } from "../core/error-text.ts";
import { SteadError } from "../core/errors.ts";
import { runInRequest } from "../core/gates/context.ts";
import type { Connections, ServedRequest } from "./connections.ts";
import {
  badRequestReply,
  bodyTimeoutReply,
  bodyTooLargeReply,
  type ErrorReply,
  methodNotAllowedReply,
  notAResponseReply,
  sendReply,
  thrownReply,
  upgradeUnavailableReply,
} from "./error-reply.ts";
import type { RateLimitedWarnings } from "./limit-warnings.ts";
import {
  type BodyLimit,
  type BodyLimits,
  discardRequestBody,
  type RequestBody,
  readRequestBody,
} from "./request-body.ts";
import { type RequestCfSources, requestCf } from "./request-cf.ts";
import { protocolProblem } from "./request-checks.ts";
import { requestIdOf } from "./request-id.ts";
import type { RequestLogSink } from "./request-log.ts";
import type { FetchTarget } from "./serve-options.ts";
import { IncomingRequest, requestHeaders, requestUrl } from "./web-request.ts";
import { type WriteProgress, writeResponse } from "./write-response.ts";

/** The reason `request.signal` carries when the client goes away before its response is sent. */
const CLIENT_GONE = "The client disconnected before the response was complete.";

/** What every request of one server shares. */
export interface RequestContext {
  readonly runtime: FetchTarget;
  /** Request body limits: size and idle timeout. */
  readonly bodyLimits: BodyLimits;
  /** The listening address as host[:port], for clients that send no Host header. */
  readonly fallbackHost: string;
  readonly log: RequestLogSink;
  /** Operator warnings: the process running out of file descriptors is one. */
  readonly warnings: RateLimitedWarnings;
  readonly connections: Connections;
  /** True when upgrade requests go to an upgrade hook rather than here. */
  readonly webSockets: boolean;
  /** Where `request.cf`'s fields may come from besides the connection. */
  readonly cf: RequestCfSources;
}

/**
 * Serves one HTTP request: turns it into a Web Request, calls the Worker through the runtime,
 * writes the Response back, and logs one record when the response ends. Never rejects and
 * never throws: whatever the Worker does, the process and the server keep running.
 */
export function handleRequest(ctx: RequestContext, req: IncomingMessage, res: ServerResponse) {
  const started = performance.now();
  const requestId = requestIdOf(req);
  const socket = req.socket;
  const abort = new AbortController();
  const progress: WriteProgress = { bytes: 0, error: undefined };
  let body: RequestBody | undefined;
  // Set once the server answered on its own (a limit was hit): the Worker's answer is dropped.
  let answered = false;
  const reply = (answer: ErrorReply, close = false) => {
    answered = true;
    sendReply(res, answer, close || ctx.connections.closing);
  };
  /** The body failed under the Worker: fail its read, and answer if nothing was sent yet. */
  const bodyFailed = (reason: string, answer: ErrorReply, bodyError: Error) => {
    progress.error ??= reason;
    body?.fail(bodyError);
    abort.abort(
      new DOMException(
        `The request body failed (${reason}); the server answered or closed the connection.`,
        "AbortError",
      ),
    );
    // Once a response has started (or ended: the rest of the body was being discarded), cutting
    // the connection is the only answer left.
    if (answered || res.headersSent) socket.destroy();
    else reply(answer, true);
  };
  const served: ServedRequest = {
    connectionFailed(reason, answer, bodyError) {
      // The failure is in a later message on this connection: this request cannot answer it.
      if (req.complete) socket.destroy();
      else bodyFailed(reason, answer, bodyError);
    },
  };
  ctx.connections.requestStarted(socket, served);
  res.once("close", () => {
    ctx.connections.requestEnded(socket, served);
    const aborted = !res.writableFinished;
    if (aborted) abort.abort(new DOMException(CLIENT_GONE, "AbortError"));
    else body?.discard();
    const record = {
      requestId,
      method: req.method ?? "",
      path: req.url ?? "",
      // 499 as nginx logs it: the client closed the connection before any status was sent.
      status: aborted && !res.headersSent ? 499 : res.statusCode,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      bytes: progress.bytes,
      ...(aborted && { aborted: true as const }),
      ...(progress.error !== undefined && { error: describeError(progress.error) }),
    };
    ctx.log(record);
  });

  const onBodyLimit = (limit: BodyLimit) => {
    const { maxBytes, idleTimeoutMs } = ctx.bodyLimits;
    if (limit === "size") {
      bodyFailed(
        `request body over the limit of ${maxBytes} bytes`,
        bodyTooLargeReply(maxBytes),
        new RangeError(`The request body exceeds this server's limit of ${maxBytes} bytes.`),
      );
    } else {
      bodyFailed(
        `no request body bytes for ${idleTimeoutMs} ms`,
        bodyTimeoutReply(idleTimeoutMs),
        new TypeError(
          `The client sent no request body bytes for ${idleTimeoutMs} ms; the server closed the connection.`,
        ),
      );
    }
  };

  const problem = protocolProblem(req);
  if (problem !== undefined) {
    progress.error = problem.body;
    reply(problem, true);
    return;
  }
  const method = req.method ?? "GET";
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > ctx.bodyLimits.maxBytes) {
    progress.error = `Content-Length ${declared} over the limit of ${ctx.bodyLimits.maxBytes} bytes`;
    // Closing the connection is the only way not to read the body.
    reply(bodyTooLargeReply(ctx.bodyLimits.maxBytes, Number(declared)), true);
    return;
  }
  if (method === "TRACE" || method === "TRACK") {
    // Fetch forbids these methods: no Request can carry them to the Worker.
    reply(methodNotAllowedReply(method));
    return;
  }
  const url = requestUrl(req, ctx.fallbackHost);
  if (url === undefined) {
    progress.error = `no valid URL from target ${req.url} and Host ${req.headers.host}`;
    reply(badRequestReply("the request target and Host header do not form a valid URL"), true);
    return;
  }
  let cf: Record<string, unknown>;
  try {
    cf = requestCf(req, ctx.cf);
  } catch (error) {
    progress.error = (error as Error).message;
    reply(badRequestReply((error as Error).message));
    return;
  }
  const hasBody =
    declared === undefined ? req.headers["transfer-encoding"] !== undefined : declared !== "0";
  const init: RequestInit & { duplex?: "half" } = { method, headers: requestHeaders(req) };
  if (hasBody) {
    if (method === "GET" || method === "HEAD") discardRequestBody(req, ctx.bodyLimits, onBodyLimit);
    else {
      body = readRequestBody(req, ctx.bodyLimits, onBodyLimit);
      init.body = body.stream;
      init.duplex = "half";
    }
  }

  runInRequest(requestId, () => ctx.runtime.fetch(new IncomingRequest(url, init, abort, cf)))
    .then(
      async (response) => {
        if (answered || res.destroyed) {
          if (response instanceof Response) response.body?.cancel().catch(() => {});
          return;
        }
        if (!(response instanceof Response)) {
          progress.error = `the fetch handler returned ${String(response)}, not a Response`;
          reply(notAResponseReply(response));
          return;
        }
        if (response.status === 101 || (response as { webSocket?: unknown }).webSocket != null) {
          progress.error = "the fetch handler returned a 101 response that cannot be sent";
          reply(upgradeUnavailableReply(ctx.webSockets));
          return;
        }
        await writeResponse(
          res,
          response,
          { head: method === "HEAD", close: ctx.connections.closing },
          progress,
        );
      },
      (thrown: unknown) => {
        progress.error = thrown;
        if (thrown instanceof SteadError && thrown.code === "DESCRIPTORS_EXHAUSTED") {
          ctx.warnings.warn("descriptors", () => thrown.message);
        }
        if (answered || res.destroyed) return;
        reply(thrownReply(thrown));
      },
    )
    .catch((unexpected: unknown) => {
      progress.error ??= unexpected;
      if (!res.headersSent) reply(thrownReply(unexpected));
      else res.destroy();
    });
}
