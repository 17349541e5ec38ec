// How anything thrown is turned into text: user code may throw values that are not Errors.

/** The text a log line carries for anything thrown: an Error's stack, else `String(error)`. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

/** An Error's message, else `String(error)`; for messages that quote what went wrong. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
