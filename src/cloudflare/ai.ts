/** `cloudflare:ai`: importable; Workers AI runs on Cloudflare only, so use throws `API_UNSUPPORTED`. */
import { unsupportedClass } from "./unsupported.ts";

const SPECIFIER = "cloudflare:ai";
const REASON = "Workers AI, AI Gateway and AutoRAG run on Cloudflare's network only";

export const Ai = unsupportedClass("Ai", SPECIFIER, REASON);
export const InferenceUpstreamError = unsupportedClass("InferenceUpstreamError", SPECIFIER, REASON);
export const AiGateway = unsupportedClass("AiGateway", SPECIFIER, REASON);
export const AiGatewayInternalError = unsupportedClass("AiGatewayInternalError", SPECIFIER, REASON);
export const AiGatewayLogNotFound = unsupportedClass("AiGatewayLogNotFound", SPECIFIER, REASON);
export const AutoRAG = unsupportedClass("AutoRAG", SPECIFIER, REASON);
export const AutoRAGInternalError = unsupportedClass("AutoRAGInternalError", SPECIFIER, REASON);
export const AutoRAGNotFoundError = unsupportedClass("AutoRAGNotFoundError", SPECIFIER, REASON);
export const AutoRAGUnauthorizedError = unsupportedClass(
  "AutoRAGUnauthorizedError",
  SPECIFIER,
  REASON,
);
export const ToMarkdownService = unsupportedClass("ToMarkdownService", SPECIFIER, REASON);
