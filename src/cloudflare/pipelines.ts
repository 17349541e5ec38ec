/** `cloudflare:pipelines`: importable; Pipelines run on Cloudflare only. */
import { unsupportedClass } from "./unsupported.ts";

export const PipelineTransformationEntrypoint = unsupportedClass(
  "PipelineTransformationEntrypoint",
  "cloudflare:pipelines",
  "Pipelines run on Cloudflare's network only",
);
