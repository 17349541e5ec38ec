import { R2Failure } from "./r2-errors.ts";

/** `onlyIf`, as the binding takes it (or `Headers` with If-Match and the rest). */
export interface R2Conditional {
  etagMatches?: string;
  etagDoesNotMatch?: string;
  uploadedBefore?: Date;
  uploadedAfter?: Date;
  secondsGranularity?: boolean;
}

type Etag = { kind: "strong" | "weak"; value: string } | { kind: "wildcard" };

/** A parsed `onlyIf`. */
export interface Condition {
  readonly etagMatches: Etag[] | undefined;
  readonly etagDoesNotMatch: Etag[] | undefined;
  /** ms since the epoch. */
  readonly uploadedBefore: number | undefined;
  readonly uploadedAfter: number | undefined;
  readonly secondsGranularity: boolean;
}

/** What a condition is tested against: the current object, if any. */
export interface ConditionTarget {
  readonly etag: string;
  /** ms since the epoch. */
  readonly uploaded: number;
}

/** Parses `onlyIf` (an object or `Headers`); undefined when there is none. */
export function parseCondition(value: unknown): Condition | undefined {
  if (value === undefined || value === null) return undefined;
  if (value instanceof Headers) {
    const date = (name: string) => {
      const text = value.get(name);
      if (text === null) return undefined;
      const time = Date.parse(text);
      return Number.isNaN(time) ? undefined : time;
    };
    return {
      etagMatches: etagList(value.get("if-match") ?? undefined),
      etagDoesNotMatch: etagList(value.get("if-none-match") ?? undefined),
      uploadedBefore: date("if-unmodified-since"),
      uploadedAfter: date("if-modified-since"),
      secondsGranularity: true,
    };
  }
  if (typeof value !== "object") {
    throw new TypeError("onlyIf must be an R2Conditional object or Headers.");
  }
  const given = value as Record<string, unknown>;
  return {
    etagMatches: etagList(stringField(given, "etagMatches")),
    etagDoesNotMatch: etagList(stringField(given, "etagDoesNotMatch")),
    uploadedBefore: dateField(given, "uploadedBefore"),
    uploadedAfter: dateField(given, "uploadedAfter"),
    secondsGranularity: given.secondsGranularity === true,
  };
}

/** True when the condition holds for `target` (undefined: no object), as R2 decides (RFC 7232). */
export function conditionHolds(condition: Condition, target: ConditionTarget | undefined): boolean {
  if (target === undefined) {
    return condition.etagMatches === undefined && condition.uploadedAfter === undefined;
  }
  const ifMatch =
    condition.etagMatches === undefined || includes(condition.etagMatches, target.etag, false);
  const ifNoneMatch =
    condition.etagDoesNotMatch === undefined ||
    !includes(condition.etagDoesNotMatch, target.etag, true);
  const round = (ms: number) => (condition.secondsGranularity ? Math.floor(ms / 1000) * 1000 : ms);
  const uploaded = round(target.uploaded);
  const modifiedSince =
    condition.uploadedAfter === undefined ||
    round(condition.uploadedAfter) < uploaded ||
    (condition.etagDoesNotMatch !== undefined && ifNoneMatch);
  const unmodifiedSince =
    condition.uploadedBefore === undefined ||
    uploaded < round(condition.uploadedBefore) ||
    (condition.etagMatches !== undefined && ifMatch);
  return ifMatch && ifNoneMatch && modifiedSince && unmodifiedSince;
}

/** Throws `PreconditionFailed` unless the condition holds. */
export function checkCondition(
  condition: Condition | undefined,
  target: ConditionTarget | undefined,
): void {
  if (condition !== undefined && !conditionHolds(condition, target)) {
    throw new R2Failure("PreconditionFailed");
  }
}

function includes(list: Etag[], etag: string, weakComparison: boolean): boolean {
  return list.some(
    (item) =>
      item.kind === "wildcard" ||
      (item.value === etag && (item.kind === "strong" || weakComparison)),
  );
}

/** `"a", W/"b", *` or a bare etag. */
function etagList(text: string | undefined): Etag[] | undefined {
  if (text === undefined) return undefined;
  return text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "")
    .map((part): Etag => {
      if (part === "*") return { kind: "wildcard" };
      const weak = part.startsWith("W/");
      const quoted = weak ? part.slice(2) : part;
      const value =
        quoted.length >= 2 && quoted.startsWith('"') && quoted.endsWith('"')
          ? quoted.slice(1, -1)
          : quoted;
      return { kind: weak ? "weak" : "strong", value };
    });
}

function stringField(given: Record<string, unknown>, name: string): string | undefined {
  const value = given[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new TypeError(`onlyIf.${name} must be a string.`);
  return value;
}

function dateField(given: Record<string, unknown>, name: string): number | undefined {
  const value = given[name];
  if (value === undefined) return undefined;
  if (!(value instanceof Date)) throw new TypeError(`onlyIf.${name} must be a Date.`);
  return value.getTime();
}
