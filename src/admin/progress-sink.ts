/**
 * What long operations (export, import, backup, restore, verify) report as they go: a total
 * once known, then each object done. The CLI draws it (`cli/progress.ts`); tests ignore it.
 */
export interface ProgressSink {
  /** `total` objects will be handled (undefined when it is not known in advance). */
  start(total: number | undefined): void;
  /** One more object is done, of `bytes` bytes. */
  advance(bytes: number): void;
}

/** A sink that reports nothing. */
export const NO_PROGRESS: ProgressSink = { start() {}, advance() {} };
