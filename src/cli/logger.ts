import { styleText } from "node:util";
import type { ConsoleEntry } from "../core/console-capture.ts";
import type { RequestLogRecord } from "../server/request-log.ts";

/** How the server writes its log: one JSON object per line, or short lines for people. */
export type LogFormat = "json" | "pretty";

/** The process's log. Requests and events go to stdout, warnings and errors to stderr. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  /** A limit was hit or a resource ran out: the operator should look (stderr). */
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  request(record: RequestLogRecord): void;
  /** A line the app wrote through `console`: stdout, warnings and errors on stderr. */
  app(entry: ConsoleEntry): void;
}

const APP_STREAM = (level: ConsoleEntry["level"]) =>
  level === "warn" || level === "error" ? process.stderr : process.stdout;

/** Makes a logger writing in `format`. */
export function createLogger(format: LogFormat): Logger {
  if (format === "json") {
    const requests = batchedLines(process.stdout);
    const write = (
      stream: NodeJS.WriteStream,
      level: string,
      msg: string,
      fields?: Record<string, unknown>,
    ) =>
      stream.write(
        `${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`,
      );
    return {
      info: (msg, fields) => {
        requests.flush();
        write(process.stdout, "info", msg, fields);
      },
      warn: (msg, fields) => write(process.stderr, "warn", msg, fields),
      error: (msg, fields) => write(process.stderr, "error", msg, fields),
      request: (record) => requests.write(requestLine(record)),
      app: ({ level, text, object, requestId }) => {
        requests.flush();
        write(APP_STREAM(level), level, text, {
          source: "app",
          ...(object && { object }),
          ...(requestId && { requestId }),
        });
      },
    };
  }
  return prettyLogger();
}

/**
 * Short lines for a person at a terminal (`stead dev`): requests coloured by status, the app's
 * lines prefixed with their object, warnings yellow, errors red. Colours only on a terminal, and
 * never with NO_COLOR set (styleText checks both).
 */
function prettyLogger(): Logger {
  const paint = (
    stream: NodeJS.WriteStream,
    format: Parameters<typeof styleText>[0],
    text: string,
  ) => styleText(format, text, { stream });
  const extra = (fields?: Record<string, unknown>) =>
    fields === undefined
      ? ""
      : ` ${Object.entries(fields)
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join(" ")}`;
  const out = process.stdout;
  const err = process.stderr;
  return {
    info: (msg, fields) => out.write(`${msg}${paint(out, "dim", extra(fields))}\n`),
    warn: (msg, fields) =>
      err.write(`${paint(err, "yellow", `Warning: ${msg}`)}${extra(fields)}\n`),
    error: (msg, fields) => err.write(`${paint(err, "red", msg)}${extra(fields)}\n`),
    request: ({ method, path, status, durationMs, error }) => {
      const color =
        status >= 500 ? "red" : status >= 400 ? "yellow" : status >= 300 ? "cyan" : "green";
      const time = paint(out, "dim", `${durationMs.toFixed(1)}ms`);
      out.write(
        `${paint(out, "bold", method)} ${path} ${paint(out, color, String(status))} ${time}\n`,
      );
      if (error !== undefined) err.write(`${paint(err, "red", error)}\n`);
    },
    app: ({ level, text, object }) => {
      const stream = APP_STREAM(level);
      const where =
        object === undefined
          ? ""
          : paint(
              stream,
              "magenta",
              `[${object.className} ${object.name ?? object.id.slice(0, 8)}] `,
            );
      const line =
        level === "error"
          ? paint(stream, "red", text)
          : level === "warn"
            ? paint(stream, "yellow", text)
            : level === "debug"
              ? paint(stream, "dim", text)
              : text;
      stream.write(`${where}${line}\n`);
    },
  };
}

/**
 * One request's JSON line, the same text `JSON.stringify` gives for
 * `{ time, level, msg: "request", ...record }`, built by hand: this runs for every request, and
 * the generic path (object spread, a Date per call) cost about 4% of a pass-through request.
 */
export function requestLine(record: RequestLogRecord): string {
  const { requestId, method, path, status, durationMs, bytes, aborted, error } = record;
  const level = status >= 500 ? "error" : "info";
  return `{"time":"${isoNow()}","level":"${level}","msg":"request","requestId":${jsonString(requestId)},"method":${jsonString(method)},"path":${jsonString(path)},"status":${status},"durationMs":${durationMs},"bytes":${bytes}${aborted ? ',"aborted":true' : ""}${error === undefined ? "" : `,"error":${JSON.stringify(error)}`}}\n`;
}

/** Printable ASCII other than `"` and `\`: JSON writes such a string as it is, in quotes. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** `JSON.stringify(text)`, without its call for the usual id, method and path. */
function jsonString(text: string): string {
  return PLAIN.test(text) ? `"${text}"` : JSON.stringify(text);
}

let isoMs = Number.NaN;
let isoText = "";

/** `new Date().toISOString()`, made once per millisecond. */
function isoNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}

/**
 * Request lines, written together at most every `REQUEST_LOG_DELAY_MS` (or once 64 KiB are
 * waiting) instead of once per request: stdout to a file or pipe is a synchronous write, a
 * measurable cost per request under load. Whatever waits is written on exit, and before any other
 * line, so the log keeps its order.
 */
function batchedLines(stream: NodeJS.WriteStream): { write(line: string): void; flush(): void } {
  let pending = "";
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (pending === "") return;
    const chunk = pending;
    pending = "";
    stream.write(chunk);
  };
  process.once("exit", flush);
  return {
    write(line) {
      pending += line;
      if (pending.length > 65_536) flush();
      // Unref'd: a server that stops serving is not kept alive by its log; exit writes the rest.
      else if (timer === undefined) timer = setTimeout(flush, REQUEST_LOG_DELAY_MS).unref();
    },
    flush,
  };
}

/** How long a request line may wait to be written with others. */
const REQUEST_LOG_DELAY_MS = 20;
