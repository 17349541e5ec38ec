// Types for `import ... from "cloudflare:workers"` in apps Stead runs (and in its own tests).
declare module "cloudflare:workers" {
  export { DurableObject, RpcTarget, WorkerEntrypoint } from "stead";
}
