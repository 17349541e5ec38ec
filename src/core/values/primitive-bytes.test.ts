import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deserialize, serialize } from "node:v8";
import { NOT_PRIMITIVE, primitiveBytes, primitiveOf } from "./primitive-bytes.ts";

const VALUES: unknown[] = [
  0,
  1,
  -1,
  63,
  64,
  -64,
  -65,
  8191,
  8192,
  2 ** 30 - 1,
  -(2 ** 30),
  2 ** 30,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 31,
  2 ** 53,
  -0,
  0.5,
  -1.25,
  Math.PI,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.NaN,
  true,
  false,
  null,
  undefined,
];

describe("primitive bytes", () => {
  it("writes what V8 reads back as the same value, and V8's own bytes for small integers", () => {
    for (const value of VALUES) {
      const bytes = primitiveBytes(value)!;
      assert.ok(bytes !== undefined, String(value));
      assert.ok(Object.is(deserialize(bytes), value), `V8 reads ${String(value)}`);
      if (typeof value !== "number" || (Number.isInteger(value) && Math.abs(value) < 2 ** 30)) {
        if (!Object.is(value, -0)) assert.deepEqual(bytes, serialize(value), String(value));
      }
    }
  });

  it("reads V8's bytes and its own", () => {
    for (const value of VALUES) {
      assert.ok(Object.is(primitiveOf(serialize(value)), value), `from V8: ${String(value)}`);
      assert.ok(Object.is(primitiveOf(primitiveBytes(value)!), value), `own: ${String(value)}`);
    }
  });

  it("leaves everything else to V8", () => {
    for (const value of ["", "a", 1n, {}, [], [1], new Date(0), Symbol("s")]) {
      if (typeof value !== "symbol") {
        assert.equal(primitiveOf(serialize(value)), NOT_PRIMITIVE, String(value));
      }
      assert.equal(primitiveBytes(value), undefined);
    }
    // Truncated or trailing bytes, another version, an empty buffer.
    const one = serialize(300);
    assert.equal(primitiveOf(one.subarray(0, one.length - 1)), NOT_PRIMITIVE);
    assert.equal(primitiveOf(Buffer.concat([one, Buffer.from([0])])), NOT_PRIMITIVE);
    assert.equal(primitiveOf(Buffer.concat([serialize(true), Buffer.from([0])])), NOT_PRIMITIVE);
    assert.equal(primitiveOf(Buffer.from([0xff, 0x0e, 0x54])), NOT_PRIMITIVE);
    assert.equal(primitiveOf(new Uint8Array(0)), NOT_PRIMITIVE);
  });
});
