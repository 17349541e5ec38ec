import { format } from "node:util";
import { currentObject, currentRequestId } from "./gates/context.ts";

/** One line an app wrote through `console`, with the object it ran in, if any. */
export interface ConsoleEntry {
  level: "debug" | "info" | "warn" | "error";
  /** The arguments formatted as `console.log` formats them. */
  text: string;
  /** The Durable Object whose code wrote it (absent for the Worker's own code). */
  object?: { className: string; id: string; name?: string };
  /** For the Worker's own code: the id of the incoming request it was serving. */
  requestId?: string;
}

const LEVELS = {
  debug: "debug",
  trace: "debug",
  log: "info",
  info: "info",
  warn: "warn",
  error: "error",
} as const;

/**
 * Sends what code writes through `console.log/info/debug/trace/warn/error` to `sink` instead of
 * the process's stdout and stderr, so a server can log an app's lines as its own (JSON with the
 * level and the object). Returns the function that puts the console back. One capture at a time
 * per thread: a second replaces the first's sink.
 */
export function captureConsole(sink: (entry: ConsoleEntry) => void): () => void {
  const saved = new Map<string, unknown>();
  const target = console as unknown as Record<string, unknown>;
  for (const [method, level] of Object.entries(LEVELS)) {
    saved.set(method, target[method]);
    target[method] = (...args: unknown[]) => {
      const text = method === "trace" ? `Trace: ${format(...args)}\n${traceOf()}` : format(...args);
      const entry = consoleEntry(level, text);
      try {
        sink(entry);
      } catch {
        // A sink that fails must not break the app's code.
      }
    };
  }
  return () => {
    for (const [method, fn] of saved) target[method] = fn;
  };
}

/** A line of `text` at `level`, naming the object or request whose code is running now. */
export function consoleEntry(level: ConsoleEntry["level"], text: string): ConsoleEntry {
  const entry: ConsoleEntry = { level, text };
  const object = currentObject()?.object;
  if (object !== undefined) entry.object = object;
  else {
    // Only the Worker's own lines name a request: an object's event may run in the async
    // context of whichever request woke its queue, so there it could name the wrong one.
    const requestId = currentRequestId();
    if (requestId !== undefined) entry.requestId = requestId;
  }
  return entry;
}

function traceOf(): string {
  return (new Error().stack ?? "").split("\n").slice(3).join("\n");
}
