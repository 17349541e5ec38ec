export { KV_LIMITS } from "./kv-limits.ts";
export {
  KVNamespace,
  type KvGetOptions,
  type KvListOptions,
  type KvPutOptions,
} from "./kv-namespace.ts";
export type { KvEntry, KvListedKey, KvListQuery, KvStore } from "./kv-store.ts";
export { SqliteKvStore } from "./sqlite-kv-store.ts";
