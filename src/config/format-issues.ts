import type { z } from "zod";

/** Known keys of the objects Stead validates strictly, for "unknown key" messages. */
const STRICT_KEYS: Record<string, string> = {
  migration:
    "tag, new_sqlite_classes, new_classes, renamed_classes, deleted_classes, transferred_classes",
  rename: "from, to",
};

/**
 * One line per problem: `<file>: <option path>: <what is wrong>`, e.g.
 * `/app/wrangler.jsonc: durable_objects.bindings[0].class_name: expected a string, got 42`.
 */
export function formatIssues(file: string, issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((issue) => `${file}: ${formatPath(issue.path)}: ${describe(issue)}`).join("\n");
}

/** `["durable_objects", "bindings", 0, "name"]` -> `durable_objects.bindings[0].name`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? "(top level)" : out;
}

function describe(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "invalid_type":
      // A schema's own text for a missing key ("is required: the folder of …") says more.
      if (input === undefined)
        return issue.message.startsWith("is required") ? issue.message : "is required";
      return `expected ${article(issue.expected)}, got ${show(input)}`;
    case "unrecognized_keys": {
      const keys = issue.keys.map((k) => `"${k}"`).join(", ");
      const last = issue.path.at(-2);
      const known =
        last === "renamed_classes"
          ? STRICT_KEYS.rename
          : last === "migrations"
            ? STRICT_KEYS.migration
            : undefined;
      return `unknown key${issue.keys.length === 1 ? "" : "s"} ${keys}${known === undefined ? "" : ` (expected: ${known})`}`;
    }
    case "invalid_format":
    case "too_small":
      return input === undefined ? issue.message : `${issue.message}, got ${show(input)}`;
    default:
      return issue.message;
  }
}

function article(expected: string): string {
  const noun = expected === "record" ? "object" : expected;
  return `${/^[aeiou]/.test(noun) ? "an" : "a"} ${noun}`;
}

function show(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return JSON.stringify(value);
  return `${typeof value} ${String(value)}`;
}
