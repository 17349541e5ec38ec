// Assertions about what a call threw or rejected with.
import assert from "node:assert/strict";
import { SteadError } from "../../src/index.ts";

/** The error `fn` throws or its promise rejects with; fails if it does neither. */
export async function failureOf(fn: () => unknown): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/**
 * An `assert.throws` / `assert.rejects` validator: a TypeError whose message is `message`, or
 * matches it.
 */
export function typeError(message: string | RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  };
}

/**
 * An `assert.throws` / `assert.rejects` validator: a SteadError with `code` whose message
 * contains each string fragment and matches each pattern.
 */
export function steadError(code: string, ...fragments: (string | RegExp)[]) {
  return (error: unknown) => {
    assert.ok(error instanceof SteadError, `expected a SteadError, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const fragment of fragments) {
      if (typeof fragment === "string") assert.ok(error.message.includes(fragment), error.message);
      else assert.match(error.message, fragment);
    }
    return true;
  };
}
