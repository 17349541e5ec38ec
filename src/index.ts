import { installWorkersGlobals } from "./core/globals/workers-globals.ts";
// For the types: the declarations of Response.webSocket, WebSocket.accept() and the other
// Workers additions to the globals reach the published .d.ts only through an import.
import "./core/websocket/globals.ts";

export type { AssetsBinding, AssetsOptions } from "./bindings/assets/index.ts";
export type {
  D1Database,
  D1DatabaseOptions,
  D1DatabaseSession,
  D1ExecResult,
  D1Meta,
  D1PreparedStatement,
  D1RawOptions,
  D1Result,
  D1Value,
} from "./bindings/d1/index.ts";
export type {
  KVNamespace,
  KvGetOptions,
  KvListOptions,
  KvPutOptions,
} from "./bindings/kv/index.ts";
export type {
  R2Bucket,
  R2Checksums,
  R2Conditional,
  R2HTTPMetadata,
  R2ListOptions,
  R2MultipartUpload,
  R2Object,
  R2ObjectBody,
  R2Objects,
  R2Range,
  R2UploadedPart,
} from "./bindings/r2/index.ts";
export type {
  RateLimit,
  RateLimitBindingOptions,
  RateLimitOptions,
  RateLimitOutcome,
} from "./bindings/ratelimit/index.ts";
export type { ServiceBindingOptions } from "./bindings/services/index.ts";
export {
  type AppConfig,
  type LoadAppConfigOptions,
  loadAppConfig,
} from "./config/index.ts";
export type { ExecutionContext } from "./core/base-classes.ts";
export { DurableObject, RpcTarget, WorkerEntrypoint } from "./core/base-classes.ts";
export { type Clock, ManualClock, systemClock } from "./core/clock.ts";
export { SteadError, type SteadErrorCode } from "./core/errors.ts";
export type { DurableObjectId } from "./core/ids/object-id.ts";
export type { Migration } from "./core/migrations/migration.ts";
export type { DurableObjectNamespace, DurableObjectStub } from "./core/object/namespace.ts";
export type { DurableObjectState } from "./core/object/object-state.ts";
export type {
  ControlStore,
  DatabaseHandle,
  NamespaceRecord,
  OpenObjectOptions,
  StorageDriver,
} from "./core/storage/driver.ts";
export type { DurableObjectStorage } from "./core/storage/durable-object-storage.ts";
export type { DurableObjectTransaction } from "./core/storage/durable-object-transaction.ts";
export type { SqlStorage, SqlStorageCursor, SqlStorageValue } from "./core/storage/sql.ts";
export type { SyncKvStorage } from "./core/storage/sync-kv-storage.ts";
export { WebSocketRequestResponsePair } from "./core/websocket/request-response-pair.ts";
export { WebSocketPair } from "./core/websocket/web-socket-pair.ts";
export { DataDirLock } from "./drivers/local/data-dir-lock.ts";
export { LocalDriver, type LocalDriverOptions } from "./drivers/local/local-driver.ts";
export {
  PostgresDriver,
  type PostgresDriverOptions,
} from "./drivers/postgres/postgres-driver.ts";
export { createRuntime, type Runtime } from "./embedded/create-runtime.ts";
export { registerWorkersModule } from "./embedded/module-loader.ts";
export type { AppBuildOptions, RuntimeOptions } from "./embedded/runtime-options.ts";
export type { ModuleRule, ModuleRuleType } from "./loader/index.ts";

// Workers globals (WebSocket, WebSocketPair, Response with `webSocket`, navigator) exist wherever
// Stead is loaded, so objects written against `stead` see what Workers see; createRuntime and
// object threads install them too.
installWorkersGlobals();
