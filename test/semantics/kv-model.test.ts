// Model-based property test of the async KV API: random sequences of get/put/delete (single and
// batched), list() with every option combination, deleteAll() and process restarts run against
// one object, and each result is compared with an in-memory Map sorted by UTF-8 bytes.
//
// Keys come from a tiny alphabet mixing 1-, 2-, 3- and 4-byte UTF-8 characters, so keys collide
// often and their UTF-8 order differs from JavaScript's UTF-16 order.
//
// The seed is fixed so the suite is deterministic; set STEAD_FC_SEED to explore other seeds.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { KvListOptions } from "../../src/core/storage/kv.ts";
import type { DurableObjectState, Runtime } from "../../src/index.ts";
import { type StoreOptions, testStore } from "../support/storage.ts";
import {
  compareUtf8,
  inObject,
  sortUtf8,
  startStorageRuntime,
} from "../support/storage-harness.ts";

const OBJECT = "model";

/** Characters of 1 (incl. NUL), 2, 3 and 4 UTF-8 bytes, around the surrogate range. */
const ALPHABET = ["a", "b", "\0", "é", "\uE000", "\uFFFF", "\u{10000}", "\u{1F600}", "\u{10FFFF}"];

/** Keys of one to three characters: few enough that operations often hit the same keys. */
const keyArb = fc
  .array(fc.constantFrom(...ALPHABET), { minLength: 1, maxLength: 3, size: "small" })
  .map((chars) => chars.join(""));
/** list() bounds and prefixes, including the empty string. */
const boundArb = fc
  .array(fc.constantFrom(...ALPHABET), { maxLength: 2 })
  .map((chars) => chars.join(""));
const valueArb = fc.oneof(
  fc.integer(),
  fc.string({ maxLength: 4 }),
  fc.constant(null),
  fc.record({ n: fc.integer(), tags: fc.array(keyArb, { maxLength: 2 }) }),
  fc.uint8Array({ maxLength: 4 }),
);

interface Model {
  data: Map<string, unknown>;
}
interface Real {
  store: StoreOptions;
  rt: Runtime;
}

/** What an operation returned, or the error it failed with, comparable with deepStrictEqual. */
type Outcome = { ok: unknown } | { error: string };

async function outcome(fn: () => Promise<unknown>): Promise<Outcome> {
  try {
    const value = await fn();
    return { ok: value instanceof Map ? [...value] : value };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

/**
 * One operation: `exec` runs it in the object, `expect` applies it to the model and returns what
 * the object must have answered.
 */
function kvCommand(
  label: string,
  exec: (ctx: DurableObjectState) => Promise<unknown>,
  expect: (model: Model) => Outcome,
): fc.AsyncCommand<Model, Real> {
  return {
    check: () => true,
    async run(model, real) {
      const actual = await inObject(real.rt, OBJECT, (_, ctx) => outcome(() => exec(ctx)));
      assert.deepStrictEqual(actual, expect(model), label);
    },
    toString: () => label,
  };
}

/** Readable labels: non-ASCII characters as \u{...} escapes, bytes as a list. */
const show = (value: unknown) =>
  JSON.stringify(value, (_, v) => (v instanceof Uint8Array ? `bytes[${[...v]}]` : v)).replace(
    /[^\x20-\x7e]/gu,
    (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`,
  );

function get(key: string) {
  return kvCommand(
    `get(${show(key)})`,
    (ctx) => ctx.storage.get(key),
    (model) => ({ ok: model.data.get(key) }),
  );
}

function getMany(keys: string[]) {
  return kvCommand(
    `get(${show(keys)})`,
    (ctx) => ctx.storage.get(keys),
    (model) => {
      const found = sortUtf8(new Set(keys)).filter((k) => model.data.has(k));
      return { ok: found.map((k) => [k, model.data.get(k)]) };
    },
  );
}

function put(key: string, value: unknown) {
  return kvCommand(
    `put(${show(key)}, ${show(value)})`,
    (ctx) => ctx.storage.put(key, value),
    (model) => {
      model.data.set(key, structuredClone(value));
      return { ok: undefined };
    },
  );
}

function putMany(pairs: Array<[string, unknown]>) {
  const entries = Object.fromEntries(pairs);
  return kvCommand(
    `put(${show(entries)})`,
    (ctx) => ctx.storage.put(entries),
    (model) => {
      for (const [key, value] of Object.entries(entries)) {
        if (value !== undefined) model.data.set(key, structuredClone(value));
      }
      return { ok: undefined };
    },
  );
}

function del(key: string) {
  return kvCommand(
    `delete(${show(key)})`,
    (ctx) => ctx.storage.delete(key),
    (model) => ({ ok: model.data.delete(key) }),
  );
}

function deleteMany(keys: string[]) {
  return kvCommand(
    `delete(${show(keys)})`,
    (ctx) => ctx.storage.delete(keys),
    (model) => {
      let deleted = 0;
      for (const key of new Set(keys)) if (model.data.delete(key)) deleted++;
      return { ok: deleted };
    },
  );
}

/** What list(options) returns for the model: Cloudflare's documented semantics. */
function expectedList(model: Model, options: KvListOptions): Outcome {
  const { start, startAfter, end, prefix, reverse, limit } = options;
  if (start !== undefined && startAfter !== undefined) {
    return { error: "TypeError: list() cannot be called with both start and startAfter values." };
  }
  if (limit !== undefined && limit <= 0)
    return { error: "TypeError: List limit must be positive." };
  let keys = sortUtf8(model.data.keys()).filter(
    (k) =>
      (start === undefined || compareUtf8(k, start) >= 0) &&
      (startAfter === undefined || compareUtf8(k, startAfter) > 0) &&
      (end === undefined || compareUtf8(k, end) < 0) &&
      (prefix === undefined || k.startsWith(prefix)),
  );
  if (reverse) keys.reverse();
  if (limit !== undefined) keys = keys.slice(0, limit);
  return { ok: keys.map((k) => [k, model.data.get(k)]) };
}

function list(options: KvListOptions) {
  return kvCommand(
    `list(${show(options)})`,
    (ctx) => ctx.storage.list(options),
    (model) => expectedList(model, options),
  );
}

function deleteAll() {
  return kvCommand(
    "deleteAll()",
    (ctx) => ctx.storage.deleteAll(),
    (model) => {
      model.data.clear();
      return { ok: undefined };
    },
  );
}

/** Stops the runtime and starts a new one on the same store, then compares everything. */
const restart: fc.AsyncCommand<Model, Real> = {
  check: () => true,
  async run(model, real) {
    await real.rt.dispose();
    real.rt = await startStorageRuntime(real.store);
    const stored = await inObject(real.rt, OBJECT, (_, ctx) => outcome(() => ctx.storage.list()));
    assert.deepStrictEqual(stored, expectedList(model, {}), "everything survives a restart");
  },
  toString: () => "restart()",
};

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });
const weighted = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });

/** Every combination of list() options; now and then an invalid one (start with startAfter, limit <= 0). */
const listOptionsArb: fc.Arbitrary<KvListOptions> = fc
  .record({
    lower: fc.oneof(
      weighted(4, fc.constant({})),
      weighted(
        3,
        boundArb.map((start) => ({ start })),
      ),
      weighted(
        3,
        boundArb.map((startAfter) => ({ startAfter })),
      ),
      weighted(
        1,
        fc.tuple(boundArb, boundArb).map(([start, startAfter]) => ({ start, startAfter })),
      ),
    ),
    end: optional(boundArb),
    prefix: optional(boundArb),
    reverse: optional(fc.boolean()),
    limit: optional(fc.integer({ min: -1, max: 6 })),
  })
  .map(({ lower, ...rest }) => {
    const options: KvListOptions = { ...lower };
    for (const [name, value] of Object.entries(rest)) {
      if (value !== undefined) (options as Record<string, unknown>)[name] = value;
    }
    return options;
  });

const commandArbs = [
  keyArb.map(get),
  fc.tuple(keyArb, valueArb).map(([k, v]) => put(k, v)),
  fc.array(keyArb, { maxLength: 5 }).map(getMany),
  fc.tuple(keyArb, valueArb).map(([k, v]) => put(k, v)),
  fc.tuple(keyArb, valueArb).map(([k, v]) => put(k, v)),
  fc
    .array(fc.tuple(keyArb, fc.option(valueArb, { nil: undefined, freq: 4 })), { maxLength: 5 })
    .map(putMany),
  fc.array(fc.tuple(keyArb, valueArb), { minLength: 1, maxLength: 5 }).map(putMany),
  keyArb.map(del),
  fc.array(keyArb, { maxLength: 5 }).map(deleteMany),
  listOptionsArb.map(list),
  listOptionsArb.map(list),
  listOptionsArb.map(list),
  fc.constant(null).map(deleteAll),
  fc.constant(restart),
];

describe("KV model", () => {
  it("matches an in-memory Map sorted by UTF-8 bytes, across restarts", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.commands(commandArbs, { maxCommands: 40, size: "max" }),
        async (commands) => {
          using store = testStore("stead-kv-model-");
          const real: Real = {
            store: store.options,
            rt: await startStorageRuntime(store.options),
          };
          try {
            await fc.asyncModelRun(() => ({ model: { data: new Map() }, real }), commands);
          } finally {
            await real.rt.dispose();
          }
        },
      ),
      { numRuns: 100, seed: Number(process.env.STEAD_FC_SEED ?? 20_260_224) },
    );
  });
});
