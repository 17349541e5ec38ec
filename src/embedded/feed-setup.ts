import type { Clock } from "../core/clock.ts";
import { SteadError } from "../core/errors.ts";
import { formatOptionProblems } from "../core/invalid-options.ts";
import type { NamespaceRecord } from "../core/storage/driver.ts";
import type { FeedOptions } from "../feed/feed-options.ts";
import type { NodeFeed } from "../feed/node-feed.ts";

/**
 * The change feed of this process (or object thread), after checking that every class it names
 * is a Durable Object class the data directory records. The feed's modules (and their PostgreSQL
 * and NATS clients) load only when a feed is configured.
 */
export async function startFeed(
  options: FeedOptions,
  records: readonly NamespaceRecord[],
  clock: Clock,
  onError: (error: unknown, context: string) => void,
): Promise<NodeFeed> {
  const known = new Set(records.map((record) => record.className));
  const problems = options.classes.flatMap((className, i) =>
    known.has(className)
      ? []
      : [
          `feed.classes.${i}: "${className}" is not a Durable Object class of this app (its classes: ${[...known].join(", ") || "none"}); name an exported class that has storage`,
        ],
  );
  if (problems.length > 0) {
    throw new SteadError("INVALID_CONFIG", formatOptionProblems("createRuntime()", problems));
  }
  const { NodeFeed } = await import("../feed/node-feed.ts");
  return new NodeFeed(options, records, clock, onError);
}
