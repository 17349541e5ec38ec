// JSON documents and the two operations a twin needs on them: applying a merge patch (how the
// device reports, and how operators change part of the desired state) and computing the delta.

export type Json = null | boolean | number | string | JsonArray | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}
export interface JsonArray extends Array<Json> {}

export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Applies a JSON merge patch (RFC 7386): members of `patch` replace those of `target`, nested
 * objects merge, and `null` removes a member.
 */
export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/**
 * What the device still has to change: the merge patch that would take `reported` to `desired`,
 * for the members `desired` names. Objects are compared member by member; arrays and other
 * values as a whole; a desired `null` asks for the member to be absent. Members only the device
 * reports (uptime, temperature) are not part of it. Empty when the device is in sync.
 */
export function delta(desired: JsonObject, reported: Json | undefined): JsonObject {
  const have = isObject(reported) ? reported : {};
  const result: JsonObject = {};
  for (const [key, want] of Object.entries(desired)) {
    const current = have[key];
    if (want === null) {
      if (current !== undefined) result[key] = null;
    } else if (isObject(want)) {
      const inner = delta(want, current);
      // A member that is not an object yet must become one, even an empty one.
      if (Object.keys(inner).length > 0 || !isObject(current)) result[key] = inner;
    } else if (!equal(want, current)) {
      result[key] = want;
    }
  }
  return result;
}

function equal(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => equal(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => equal(a[key], b[key]));
  }
  return false;
}
