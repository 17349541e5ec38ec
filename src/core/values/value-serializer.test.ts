// The stored-value format stays what it was: a value without platform objects is written
// byte-for-byte as node:v8's serialize() writes it, and bytes written by serialize() (everything
// stored before platform objects were supported) read back unchanged.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deserialize, serialize } from "node:v8";
import { deserializeValue, serializeValue } from "./value-serializer.ts";

function plainValues(): unknown[] {
  const cycle: Record<string, unknown> = { name: "cycle" };
  cycle.self = cycle;
  const shared = { shared: true };
  const sparse: unknown[] = [];
  sparse[100_000] = { far: new Map([[1, 2]]) };
  let deep: unknown = "bottom";
  for (let i = 0; i < 300; i++) deep = { deep }; // past the tree walk's depth
  const holey = [1, 2, 3];
  delete holey[1];
  const wide = Array.from({ length: 5_000 }, (_, i) => ({ i, again: shared }));
  return [
    0,
    -0,
    Number.NaN,
    "text",
    "\u{1F600}\uD800",
    10n ** 30n,
    true,
    null,
    { a: 1, nested: { list: [1, "two", null, undefined] } },
    holey,
    Object.assign([1, 2], { extra: "kept" }),
    new Date(5),
    /re/gi,
    new Map<unknown, unknown>([[{ key: 1 }, new Set([1, 2])]]),
    new Uint8Array([1, 2, 3]),
    new Float64Array([1.5]),
    new BigInt64Array([5n]),
    new DataView(new ArrayBuffer(4)),
    Buffer.from("buffer"),
    new ArrayBuffer(8),
    new TypeError("bad", { cause: "why" }),
    new String("boxed"),
    Object.assign(Object.create(null), { nullProto: 1 }),
    cycle,
    [shared, shared],
    sparse,
    deep,
    wide,
  ];
}

describe("stored value format", () => {
  it("writes values without platform objects exactly as v8.serialize does", () => {
    for (const value of plainValues()) {
      assert.deepEqual(serializeValue(value), serialize(value));
    }
  });

  it("reads what v8.serialize wrote, as v8.deserialize does", () => {
    for (const value of plainValues()) {
      const bytes = serialize(value);
      assert.deepStrictEqual(deserializeValue(bytes), deserialize(bytes));
    }
  });

  it("reads typed arrays and Buffers written beside platform objects", () => {
    const value = {
      headers: new Headers({ a: "1" }),
      bytes: new Int16Array([-1, 2]),
      buf: Buffer.from("b"),
    };
    const copy = deserializeValue(serializeValue(value)) as typeof value;
    assert.deepEqual([...copy.headers], [["a", "1"]]);
    assert.deepEqual(copy.bytes, new Int16Array([-1, 2]));
    assert.deepEqual(copy.buf, Buffer.from("b"));
  });

  it("finds a platform object past the tree walk's budget and in a cycle", () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    cycle.headers = new Headers({ c: "1" });
    const late = Array.from({ length: 10_000 }, () => ({}));
    const last = { headers: new Headers({ l: "1" }) };
    const sparse: unknown[] = [];
    sparse[200_000] = new Headers({ s: "1" });
    for (const value of [cycle, [...late, last], sparse]) {
      assert.notDeepEqual(serializeValue(value), serialize(value), "written as a host object");
    }
    const copy = deserializeValue(serializeValue(cycle)) as typeof cycle;
    assert.equal(copy.self, copy);
    assert.ok(copy.headers instanceof Headers);
  });
});
