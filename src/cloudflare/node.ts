/**
 * `cloudflare:node`: importable. Its helpers adapt a `node:http` server to a Worker's `fetch`
 * inside workerd; Stead runs on Node, where such a server can simply listen, so they throw
 * `API_UNSUPPORTED`.
 */
import { unsupportedFunction } from "./unsupported.ts";

const REASON =
  "it adapts a node:http server to workerd; on Stead, run the server with Node directly";

export const httpServerHandler = unsupportedFunction(
  "httpServerHandler",
  "cloudflare:node",
  REASON,
);
export const handleAsNodeRequest = unsupportedFunction(
  "handleAsNodeRequest",
  "cloudflare:node",
  REASON,
);
