export { BlobFiles } from "./blob-files.ts";
export { FileR2Store } from "./file-r2-store.ts";
export {
  R2Bucket,
  type R2BucketSetup,
  type R2ListOptions,
  type R2Objects,
} from "./r2-bucket.ts";
export type { R2Conditional } from "./r2-conditional.ts";
export type { R2HTTPMetadata } from "./r2-http-metadata.ts";
export { R2_LIMITS } from "./r2-limits.ts";
export { R2MultipartUpload, type R2UploadedPart } from "./r2-multipart.ts";
export { R2Checksums, R2Object, R2ObjectBody, type R2Range } from "./r2-object.ts";
export type {
  R2ListPage,
  R2ListQuery,
  R2ObjectRecord,
  R2Store,
  ReadPlan,
  WrittenBlob,
} from "./r2-store.ts";
