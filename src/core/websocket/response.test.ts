import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NativeResponse, Response, takeBody } from "./response.ts";

type AnyResponse = globalThis.Response;
type Make = (body?: BodyInit | null, init?: ResponseInit) => AnyResponse;

const stead: Make = (body, init) =>
  new Response(body, init as ConstructorParameters<typeof Response>[1]);
const native: Make = (body, init) => new NativeResponse(body, init);

/** What a scenario observed: values, or the error's class and message. */
async function outcome(run: () => unknown): Promise<unknown> {
  try {
    const value = await run();
    if (value instanceof Blob) return { blob: value.type, text: await value.text() };
    if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
      return { bytes: [...new Uint8Array(value)] };
    }
    if (value instanceof FormData) return { form: [...value] };
    return { value };
  } catch (error) {
    return { error: (error as Error).constructor.name, message: (error as Error).message };
  }
}

/** Runs `scenario` on a response made by Stead's class and by Node's: both must see the same. */
async function same(scenario: (make: Make) => unknown): Promise<void> {
  assert.deepEqual(await outcome(() => scenario(stead)), await outcome(() => scenario(native)));
}

const TEXT = "héllo wörld \u{1F600} \uD800 lone";

describe("Response with a string body (kept as a string until read)", () => {
  it("reads, and reports use, as Node's Response does", async () => {
    for (const read of ["text", "json", "arrayBuffer", "bytes", "blob"] as const) {
      await same(async (make) => {
        const response = make(read === "json" ? '{"a":[1,"é"]}' : TEXT);
        const before = response.bodyUsed;
        const value = await response[read]();
        return [before, response.bodyUsed, await outcome(() => value)];
      });
      // A second read fails with Node's error.
      await same(async (make) => {
        const response = make(TEXT);
        await response[read === "json" ? "text" : read]();
        return response[read]();
      });
    }
  });

  it("has Node's headers and Content-Type, given or not", async () => {
    await same((make) => [...make(TEXT).headers]);
    await same((make) => [...make(TEXT, { headers: { "Content-Type": "text/html" } }).headers]);
    await same((make) => {
      const response = make(TEXT, { status: 201, statusText: "Made", headers: [["x-a", "1"]] });
      return [response.status, response.statusText, response.ok, [...response.headers]];
    });
    await same((make) =>
      make("a=1&b=%C3%A9", {
        headers: { "content-type": "application/x-www-form-urlencoded" },
      }).formData(),
    );
    await same((make) => make(TEXT).formData());
    // The blob's type follows the Content-Type at the time of reading.
    await same((make) => {
      const response = make(TEXT);
      response.headers.set("content-type", "text/csv");
      return response.blob();
    });
  });

  it("gives one body stream, and reads it as Node's does", async () => {
    await same(async (make) => {
      const response = make(TEXT);
      const body = response.body!;
      assert.equal(response.body, body);
      const reader = body.getReader();
      const chunks: number[] = [];
      for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(...r.value);
      return [chunks, response.bodyUsed, await outcome(() => response.text())];
    });
    // A locked body: reads and clones fail with Node's errors.
    await same((make) => {
      const response = make(TEXT);
      response.body!.getReader();
      return [response.bodyUsed, response.body!.locked];
    });
    await same((make) => {
      const response = make(TEXT);
      response.body!.getReader();
      return response.text();
    });
    await same((make) => {
      const response = make(TEXT);
      response.body!.getReader();
      return response.blob();
    });
    await same((make) => {
      const response = make(TEXT);
      response.body!.getReader();
      return response.clone();
    });
  });

  it("clones before and after the body is asked for, as Node does", async () => {
    await same(async (make) => {
      const response = make(TEXT, { status: 202, headers: { "x-a": "1" } });
      const copy = response.clone();
      return [copy.status, [...copy.headers], await copy.text(), await response.text()];
    });
    await same(async (make) => {
      const response = make(TEXT);
      void response.body;
      const copy = response.clone();
      return [await copy.text(), await response.text(), copy.bodyUsed, response.bodyUsed];
    });
    await same(async (make) => {
      const response = make(TEXT);
      await response.text();
      return response.clone();
    });
  });

  it("refuses a body with 204, 205 and 304 with Node's errors", async () => {
    for (const status of [204, 205, 304]) await same((make) => make("x", { status }));
    await same((make) => make("x", { status: 200.5 }).status);
  });

  it("has textStream() where Node has it", async () => {
    const has = typeof (NativeResponse.prototype as { textStream?: unknown }).textStream;
    assert.equal(typeof (Response.prototype as { textStream?: unknown }).textStream, has);
  });

  it("keeps its members working on Node's own responses, and adds no statics", async () => {
    const proto = Response.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
    assert.equal(await proto.text!.call(new NativeResponse("node")), "node");
    assert.equal(Reflect.get(Response.prototype, "bodyUsed", new NativeResponse("x")), false);
    const copy = proto.clone!.call(new NativeResponse("twice")) as globalThis.Response;
    assert.equal(await copy.text(), "twice");
    const statics = (cls: object) =>
      Object.getOwnPropertyNames(cls).filter((n) => !["length", "name", "prototype"].includes(n));
    assert.deepEqual(
      statics(Response).filter((n) => !statics(NativeResponse).includes(n)),
      [],
    );
  });

  it("overrides every body member of Node's Response", () => {
    const body = Object.getOwnPropertyNames(NativeResponse.prototype).filter(
      (name) =>
        ![
          "constructor",
          "type",
          "url",
          "redirected",
          "status",
          "ok",
          "statusText",
          "headers",
        ].includes(name),
    );
    const own = Object.getOwnPropertyNames(Response.prototype);
    assert.deepEqual(
      body.filter((name) => !own.includes(name)),
      [],
      "a body member Node added must read the string body too",
    );
  });
});

describe("Response.json", () => {
  it("answers as Node's, as an instance of Stead's Response", async () => {
    const json = (make: Make) => (make === stead ? Response.json : NativeResponse.json);
    await same(async (make) => {
      const response = json(make)({ a: [1, "é"], b: null });
      return [response.status, [...response.headers], await response.text()];
    });
    await same(async (make) => {
      const response = json(make)([1], {
        status: 201,
        headers: { "content-type": "application/vnd.x+json" },
      });
      return [response.status, [...response.headers], await response.json()];
    });
    await same((make) => (json(make) as (...args: unknown[]) => unknown)());
    await same((make) => json(make)(undefined));
    await same((make) => json(make)(10n));
    await same((make) => json(make)({}, { status: 204 }));
    await same((make) => json(make)({}, { status: 100 }));
    assert.equal(Object.getPrototypeOf(Response.json(1)), Response.prototype);
    assert.equal(Response.json.length, NativeResponse.json.length);
  });
});

describe("Response with a bytes body (kept as a copy of the bytes until read)", () => {
  const bodies = (): [string, BodyInit][] => {
    const buffer = new TextEncoder().encode(TEXT).buffer;
    return [
      ["ArrayBuffer", buffer],
      ["Uint8Array", new Uint8Array(buffer)],
      ["a view of part of a buffer", new Uint8Array(buffer, 2, 9)],
      ["DataView", new DataView(buffer, 1, 6)],
      ["Float64Array", new Float64Array([1.5, -2])],
    ];
  };

  it("reads, reports use, clones and gives one stream as Node's Response does", async () => {
    for (const [, body] of bodies()) {
      for (const read of ["text", "arrayBuffer", "bytes", "blob"] as const) {
        await same(async (make) => {
          const response = make(body);
          const before = response.bodyUsed;
          const value = await response[read]();
          return [
            before,
            response.bodyUsed,
            await outcome(() => value),
            await outcome(() => response[read]()),
          ];
        });
      }
      await same(async (make) => {
        const response = make(body, { status: 202, headers: { "x-a": "1" } });
        const copy = response.clone();
        return [copy.status, [...copy.headers], await copy.bytes(), await response.bytes()];
      });
      await same(async (make) => {
        const response = make(body);
        const stream = response.body!;
        assert.equal(response.body, stream);
        return [[...response.headers], await new Response(stream).bytes(), response.bodyUsed];
      });
      await same((make) => make(body, { status: 204 }));
    }
  });

  it("is the bytes the body had when the Response was made", async () => {
    for (const make of [stead, native]) {
      const bytes = new Uint8Array([1, 2, 3]);
      const response = make(bytes);
      bytes[0] = 9;
      assert.deepEqual([...(await response.bytes())], [1, 2, 3]);
    }
  });

  it("leaves shared, resizable and detached buffers to Node", async () => {
    await same((make) =>
      make(new Uint8Array(new SharedArrayBuffer(4)) as unknown as BodyInit).bytes(),
    );
    await same((make) => make(new ArrayBuffer(4, { maxByteLength: 8 })).bytes());
    await same((make) => {
      const buffer = new ArrayBuffer(4);
      buffer.transfer();
      return make(buffer).bytes();
    });
  });
});

describe("takeBody", () => {
  it("takes an untouched bytes body once, as the response's own copy", async () => {
    const given = new Uint8Array([1, 2, 3, 4]).subarray(1);
    const response = new Response(given);
    const taken = takeBody(response) as Uint8Array;
    assert.deepEqual([...taken], [2, 3, 4]);
    assert.notEqual(taken.buffer, given.buffer);
    assert.equal(takeBody(response), undefined);
    assert.equal(response.bodyUsed, true);
  });

  it("takes an untouched string body once; the response then reads as used", async () => {
    const response = Response.json({ a: 1 });
    assert.equal(takeBody(response), '{"a":1}');
    assert.equal(takeBody(response), undefined);
    assert.equal(response.bodyUsed, true);
    await assert.rejects(response.text(), {
      name: "TypeError",
      message: "Body is unusable: Body has already been read",
    });
  });

  it("leaves a body that was asked for, or that is neither a string nor bytes, to its stream", () => {
    const asked = new Response("x");
    void asked.body;
    assert.equal(takeBody(asked), undefined);
    const read = new Response(new Uint8Array([1]));
    void read.bytes();
    assert.equal(takeBody(read), undefined);
    assert.equal(takeBody(new Response(new Blob(["x"]))), undefined);
    assert.equal(takeBody(new NativeResponse("x")), undefined);
    assert.equal(takeBody(new Response("x").clone()), "x");
  });
});
