/**
 * The module Cloudflare apps import as `cloudflare:workers`. Stead serves this file under that
 * specifier to every module it loads, so `import { DurableObject } from "cloudflare:workers"`
 * works unchanged. Loading it installs the WebSocket globals Workers have (`WebSocketPair`,
 * `WebSocketRequestResponsePair`, a `Response` that takes `webSocket`).
 */
import "./core/websocket/globals.ts";

export { DurableObject, RpcTarget, WorkerEntrypoint } from "./core/base-classes.ts";
