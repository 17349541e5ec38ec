export type { RequestLogRecord, RequestLogSink } from "./request-log.ts";
export {
  type CloseOptions,
  type ServeOptions,
  type ServerAddress,
  type SteadServer,
  serve,
  type UpgradeHandler,
} from "./serve.ts";
export { handleWebSocketUpgrade, type WebSocketUpgradeOptions } from "./websocket-upgrade.ts";
