import { WEB_SOCKET_GLOBALS } from "../websocket/globals.ts";
import { CacheStorage } from "./cache-storage.ts";
import { HTMLRewriter } from "./html-rewriter.ts";
import { Navigator } from "./navigator.ts";
import { Scheduler } from "./scheduler.ts";
import { FixedLengthStream, IdentityTransformStream } from "./transform-streams.ts";

const INSTALLED = Symbol.for("stead.workersGlobals");
const slots = globalThis as unknown as Record<PropertyKey, unknown>;

/**
 * Installs the globals every Worker sees on Cloudflare, whatever it imports: the Workers
 * `WebSocket`, `WebSocketPair`, `WebSocketRequestResponsePair`, the `Response` that takes
 * `webSocket`, `navigator` (`userAgent` "Cloudflare-Workers"), `scheduler`, `caches` (a cache that
 * never hits, as on a workers.dev route), `IdentityTransformStream`, `FixedLengthStream`, and an
 * `HTMLRewriter` (lol-html as WebAssembly). Call it before loading an
 * app's code, on every thread that runs some; idempotent.
 *
 * Node's own classes stay reachable where Stead needs them: `NativeResponse` and
 * `NativeWebSocket` are captured before the replacement. The `ws` library and undici hold their
 * own references and are unaffected.
 */
export function installWorkersGlobals(): void {
  if (slots[INSTALLED] === true) return;
  for (const [name, value] of Object.entries(workersGlobals())) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
  }
  slots[INSTALLED] = true;
}

function workersGlobals(): Record<string, unknown> {
  return {
    ...WEB_SOCKET_GLOBALS,
    navigator: new Navigator(),
    scheduler: new Scheduler(),
    caches: new CacheStorage(),
    IdentityTransformStream,
    FixedLengthStream,
    HTMLRewriter,
  };
}

/** The names `installWorkersGlobals` defines (docs/compatibility.md lists each). */
export const WORKERS_GLOBAL_NAMES: readonly string[] = Object.keys(workersGlobals());
