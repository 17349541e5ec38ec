export type { HttpMetrics } from "./http-metrics.ts";
export type { WarningSink } from "./limit-warnings.ts";
export type { RequestLogRecord, RequestLogSink } from "./request-log.ts";
export {
  type CloseOptions,
  type ServerAddress,
  type SteadServer,
  serve,
} from "./serve.ts";
export type { FetchTarget, ServeOptions, UpgradeHandler } from "./serve-options.ts";
export { handleWebSocketUpgrade, type WebSocketUpgradeOptions } from "./websocket-upgrade.ts";
