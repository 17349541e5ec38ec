import { D1_CLASS_NAME, D1DatabaseObject } from "../bindings/d1/index.ts";

/**
 * The classes objects are made of: the app's exports, and Stead's own classes (the D1 databases'),
 * whose names are not identifiers, so no export can take them.
 */
export function withRuntimeClasses(module: Record<string, unknown>): Record<string, unknown> {
  return { ...module, [D1_CLASS_NAME]: D1DatabaseObject };
}
