export type { ExecutionContext } from "./core/base-classes.ts";
export { DurableObject, RpcTarget, WorkerEntrypoint } from "./core/base-classes.ts";
export { type Clock, ManualClock, systemClock } from "./core/clock.ts";
export { SteadError, type SteadErrorCode } from "./core/errors.ts";
export type { DurableObjectId } from "./core/ids/object-id.ts";
export type { DurableObjectNamespace, DurableObjectStub } from "./core/object/namespace.ts";
export type { DurableObjectState } from "./core/object/object-state.ts";
export type { DatabaseHandle, StorageDriver } from "./core/storage/driver.ts";
export type {
  DurableObjectStorage,
  DurableObjectTransaction,
  SyncKvStorage,
} from "./core/storage/durable-object-storage.ts";
export type { SqlStorage, SqlStorageCursor, SqlStorageValue } from "./core/storage/sql.ts";
export { LocalDriver, type LocalDriverOptions } from "./drivers/local/local-driver.ts";
export { createRuntime, type Runtime } from "./embedded/create-runtime.ts";
export { registerWorkersModule } from "./embedded/module-loader.ts";
export type { RuntimeOptions } from "./embedded/runtime-options.ts";
