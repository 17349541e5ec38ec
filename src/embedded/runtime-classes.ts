import { D1_CLASS_NAME, D1DatabaseObject } from "../bindings/d1/index.ts";
import { DurableObject } from "../core/base-classes.ts";
import type { NamespaceRecord } from "../core/storage/driver.ts";

/**
 * The classes objects are made of: the app's exports, and Stead's own classes (the D1 databases'),
 * whose names are not identifiers, so no export can take them.
 */
export function withRuntimeClasses(module: Record<string, unknown>): Record<string, unknown> {
  return { ...module, [D1_CLASS_NAME]: D1DatabaseObject };
}

/**
 * A bare class for every recorded namespace: what a runtime opened for Stead's tools hosts, so
 * an operator reaches any object's storage without running the app's code.
 */
export function bareClasses(records: Iterable<NamespaceRecord>): Record<string, unknown> {
  const classes: Record<string, unknown> = {};
  for (const { className } of records) {
    classes[className] = { [className]: class extends DurableObject {} }[className];
  }
  return classes;
}
