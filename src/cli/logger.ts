/** How the server writes its log: one JSON object per line, or short lines for people. */
export type LogFormat = "json" | "pretty";

import type { RequestLogRecord } from "../server/request-log.ts";

/** The process's log. Requests and events go to stdout, errors to stderr. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  request(record: RequestLogRecord): void;
}

/** Makes a logger writing in `format`. */
export function createLogger(format: LogFormat): Logger {
  if (format === "json") {
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
      info: (msg, fields) => write(process.stdout, "info", msg, fields),
      error: (msg, fields) => write(process.stderr, "error", msg, fields),
      request: (record) =>
        write(process.stdout, record.status >= 500 ? "error" : "info", "request", { ...record }),
    };
  }
  const extra = (fields?: Record<string, unknown>) =>
    fields === undefined
      ? ""
      : ` ${Object.entries(fields)
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join(" ")}`;
  return {
    info: (msg, fields) => process.stdout.write(`${msg}${extra(fields)}\n`),
    error: (msg, fields) => process.stderr.write(`${msg}${extra(fields)}\n`),
    request: ({ method, path, status, durationMs, error }) =>
      process.stdout.write(
        `${method} ${path} ${status} ${durationMs.toFixed(1)}ms${error === undefined ? "" : `\n${error}`}\n`,
      ),
  };
}
