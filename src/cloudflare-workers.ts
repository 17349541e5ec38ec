/**
 * The module Cloudflare apps import as `cloudflare:workers`. Stead serves this file under that
 * specifier to every module it loads, so `import { DurableObject } from "cloudflare:workers"`
 * works unchanged.
 */
export { DurableObject, RpcTarget, WorkerEntrypoint } from "./core/base-classes.ts";
