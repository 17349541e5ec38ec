import { type ConsoleEntry, consoleEntry } from "./console-capture.ts";
import { describeError } from "./error-text.ts";
import { currentObject, currentRequestId } from "./gates/context.ts";

/** Where `catchUncaughtErrors` sends what it catches. */
export interface UncaughtErrorSinks {
  /**
   * An error the app's code let escape outside any event, as the line workerd logs for it
   * (`Uncaught Error: …`, `Uncaught (in promise) …`), with the object or request it came from.
   */
  app(entry: ConsoleEntry): void;
  /**
   * An error with no object or request behind it: the runtime's own, or the app's top-level
   * code. The thread cannot be trusted to go on; the sink ends it.
   */
  own(error: unknown, origin: "uncaughtException" | "unhandledRejection"): void;
}

/**
 * Catches exceptions thrown, and rejections left unhandled, outside any event: in a timer, a
 * stream callback or a promise nobody awaits. On Cloudflare such an error is logged and the
 * object goes on; in Node it would end the process, or the object thread and every object on it.
 * One that comes from an object's or a request's code (its async context says which) goes to
 * `sinks.app` and the thread goes on; any other goes to `sinks.own`. Call this once per thread
 * Stead owns (the CLI's main thread, each object thread); returns what removes the handlers.
 */
export function catchUncaughtErrors(sinks: UncaughtErrorSinks): () => void {
  const caught = (error: unknown, origin: "uncaughtException" | "unhandledRejection") => {
    if (currentObject() === undefined && currentRequestId() === undefined) {
      sinks.own(error, origin);
      return;
    }
    const prefix = origin === "unhandledRejection" ? "Uncaught (in promise)" : "Uncaught";
    try {
      sinks.app(consoleEntry("error", `${prefix} ${describeError(error)}`));
    } catch {
      // A sink that fails must not turn a logged error into a crash.
    }
  };
  const onException = (error: unknown) => caught(error, "uncaughtException");
  const onRejection = (reason: unknown) => caught(reason, "unhandledRejection");
  process.on("uncaughtException", onException);
  process.on("unhandledRejection", onRejection);
  return () => {
    process.off("uncaughtException", onException);
    process.off("unhandledRejection", onRejection);
  };
}
