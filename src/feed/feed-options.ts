import { z } from "zod";

/** The change feed's settings (`createRuntime({ feed })`, `--feed-classes` and `--feed`). */
export interface FeedOptions {
  /** The exported class names whose objects' commits are captured and shipped. */
  classes: string[];
  /**
   * Where to: `postgres://…` (a projection per object table, `?schema=` default `stead_feed`) or
   * `nats://…` (JetStream, one subject per class: `?prefix=` default `stead.feed`, `?stream=`
   * default `STEAD_FEED`). At least one. See docs/change-feed.md.
   */
  sinks: string[];
}

const SINK_ERROR =
  'must be a postgres://… or nats://… URL, like "postgres://user@127.0.0.1:5432/app"';

/** The `feed` option's schema (in `createRuntime`'s). */
export const feedSchema = z
  .object({
    classes: z
      .array(
        z.string().regex(/^[A-Za-z_$][\w$]*$/, { error: 'must be a class name like "Counter"' }),
      )
      .min(1, { error: "must name at least one class" }),
    sinks: z
      .array(z.string().regex(/^(postgres(ql)?|nats):\/\//, { error: SINK_ERROR }))
      .min(1, { error: "must name at least one sink" }),
  })
  .strict();
