import { Navigator } from "./navigator.ts";
import { WEB_SOCKET_GLOBALS } from "./websocket/globals.ts";

const INSTALLED = Symbol.for("stead.workersGlobals");
const slots = globalThis as unknown as Record<PropertyKey, unknown>;

/**
 * Installs the globals every Worker sees on Cloudflare, whatever it imports: the Workers
 * `WebSocket`, `WebSocketPair`, `WebSocketRequestResponsePair`, the `Response` that takes
 * `webSocket`, and `navigator` (`userAgent` "Cloudflare-Workers"). Call it before loading an
 * app's code, on every thread that runs some; idempotent.
 *
 * Node's own classes stay reachable where Stead needs them: `NativeResponse` and
 * `NativeWebSocket` are captured before the replacement. The `ws` library and undici hold their
 * own references and are unaffected.
 */
export function installWorkersGlobals(): void {
  if (slots[INSTALLED] === true) return;
  for (const [name, value] of Object.entries({
    ...WEB_SOCKET_GLOBALS,
    navigator: new Navigator(),
  })) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
  }
  slots[INSTALLED] = true;
}
