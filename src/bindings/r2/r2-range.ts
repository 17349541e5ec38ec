import { R2Failure } from "./r2-errors.ts";

/**
 * The bytes a `get` reads from an object of `size` bytes: all of them without a range; a
 * range `{ offset, length }`, `{ suffix }` or `Headers` with `Range` (one `bytes=` range; several,
 * or one that does not parse, read the whole object), as R2 reads them.
 */
export function parseRange(range: unknown, size: number): { offset: number; length: number } {
  if (range === undefined || range === null) return { offset: 0, length: size };
  if (range instanceof Headers) return headerRange(range.get("range"), size);
  if (typeof range !== "object") {
    throw new TypeError("range must be { offset, length }, { suffix } or Headers with Range.");
  }
  const given = range as { offset?: unknown; length?: unknown; suffix?: unknown };
  for (const field of ["offset", "length", "suffix"] as const) {
    const value = given[field];
    if (
      value !== undefined &&
      (typeof value !== "number" || !Number.isInteger(value) || value < 0)
    ) {
      throw new TypeError(`range.${field} must be a non-negative integer.`);
    }
  }
  if (given.suffix !== undefined) {
    if (given.offset !== undefined || given.length !== undefined) {
      throw new TypeError("range.suffix cannot be given with offset or length.");
    }
    const suffix = given.suffix as number;
    if (suffix <= 0) throw new R2Failure("InvalidRange");
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const offset = (given.offset as number | undefined) ?? 0;
  let length = (given.length as number | undefined) ?? size - offset;
  if (offset > size || length <= 0) throw new R2Failure("InvalidRange");
  if (offset + length > size) length = size - offset;
  return { offset, length };
}

function headerRange(header: string | null, size: number): { offset: number; length: number } {
  const whole = { offset: 0, length: size };
  if (header === null) return whole;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return whole;
  const [, first, last] = match;
  if (first === "" && last === "") return whole;
  if (first === "") {
    const suffix = Math.min(Number(last), size);
    if (suffix === 0) throw new R2Failure("InvalidRange");
    return { offset: size - suffix, length: suffix };
  }
  const offset = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (offset >= size || end < offset) throw new R2Failure("InvalidRange");
  return { offset, length: end - offset + 1 };
}
