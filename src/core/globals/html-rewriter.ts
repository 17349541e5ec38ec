import { SteadError } from "../errors.ts";

/**
 * `HTMLRewriter` exists so code that names it (feature checks, subclasses) loads; building one
 * throws `API_UNSUPPORTED`: Stead has no streaming HTML rewriter yet.
 */
export class HTMLRewriter {
  constructor() {
    throw new SteadError(
      "API_UNSUPPORTED",
      "HTMLRewriter is not supported by Stead yet. Transform the HTML another way (a streaming HTML parser from npm), or guard this code path; see docs/compatibility.md#workers-globals.",
    );
  }
}
