/**
 * `cloudflare:workflows`. The Workflows binding is not supported (docs/compatibility.md);
 * `NonRetryableError` is a plain error class, so workflow code that throws it loads and runs.
 */

/** Thrown from a workflow step to fail the instance without retrying. */
export class NonRetryableError extends Error {
  constructor(message: string, name = "NonRetryableError") {
    super(message);
    this.name = name;
  }
}
