import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RpcTarget } from "../../src/index.ts";
import { typeError } from "../support/errors.ts";
import { assertDataCloneError } from "../support/platform-values.ts";
import { fixture, start } from "../support/rpc-runtime.ts";

const MiB = 1024 * 1024;

async function constructionsOf(id: { toString(): string }) {
  const { constructed } = await fixture();
  return constructed.filter((c) => c.id === id.toString());
}

function notImplemented(member: string) {
  return typeError(`The RPC receiver does not implement the method "${member}".`);
}

function unserializable(type: string) {
  return (error: unknown) => {
    assertDataCloneError(
      error,
      `Could not serialize object of type "${type}". This type does not support serialization.`,
    );
    return true;
  };
}

function tooLarge(error: unknown) {
  assert.ok(error instanceof Error);
  assert.match(error.message, /too large/);
  assert.match(error.message, /33554432/);
  return true;
}

describe("calling methods and reading properties", () => {
  it("calls methods with arguments and returns their results", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("methods");
    assert.equal(await stub.add(2, 3), 5);
    assert.equal(await stub.echo("text"), "text");
    assert.equal(await stub.echo(undefined), undefined);
    assert.equal(await stub.hiddenLength(), "private".length);
  });

  it("makes synchronous methods asynchronous at the caller, including their throws", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("sync");
    const result = stub.add(1, 2);
    assert.equal(typeof result.then, "function");
    assert.equal(await result, 3);
    const failing = stub.throwTypeError(); // must not throw synchronously
    await assert.rejects(failing, TypeError);
  });

  it("reads getters and prototype properties with await", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("props");
    assert.equal(await stub.greeting, "hello from props");
    assert.equal(await stub.kind, "echo-object");
    await assert.rejects(stub.greeting(), /"greeting" is a property, not a method/);
  });

  it("reads a method as a property: the caller gets a callable stub", async () => {
    await using rt = await start();
    const add = await rt.env.ECHO.getByName("method-prop").add;
    assert.equal(typeof add, "function");
    assert.equal(await add(20, 22), 42);
  });

  it("rejects a missing method or property with Cloudflare's text", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("missing");
    await assert.rejects(stub.nope(), notImplemented("nope"));
    await assert.rejects(stub.nope(1, 2, 3), notImplemented("nope"));
    await assert.rejects(Promise.resolve(stub.nope), notImplemented("nope"));
    // The stub still works afterwards.
    assert.equal(await stub.add(1, 1), 2);
  });

  it("does not expose instance fields (ctx, env, own properties) or Object.prototype members", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("fields");
    assert.equal(await stub.add(0, 0), 0); // the instance exists, with its fields set
    for (const member of ["ctx", "env", "secret", "list", "arrivals", "kept"]) {
      await assert.rejects(Promise.resolve(stub[member]), notImplemented(member));
      await assert.rejects(stub[member](), notImplemented(member));
    }
    for (const member of [
      "toString",
      "hasOwnProperty",
      "valueOf",
      "__proto__",
      "__defineGetter__",
    ]) {
      await assert.rejects(stub[member](), notImplemented(member));
    }
    assert.equal(stub[Symbol.for("secret")], undefined, "symbol-keyed members are not reachable");
    assert.equal(stub.then, undefined, "a stub is not a thenable");
  });
});

describe("reserved names", () => {
  it("refuses handlers and constructor as RPC methods on a Durable Object", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("reserved");
    for (const member of [
      "alarm",
      "webSocketMessage",
      "webSocketClose",
      "webSocketError",
      "constructor",
    ]) {
      await assert.rejects(stub[member](), notImplemented(member));
      await assert.rejects(Promise.resolve(stub[member]), notImplemented(member));
    }
  });

  it("stub.dup() duplicates the stub instead of calling the class's dup()", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("dup");
    const copy = stub.dup();
    assert.notEqual(copy, stub);
    assert.ok(copy.id.equals(stub.id));
    assert.equal(copy.name, "dup");
    assert.equal(await copy.add(2, 2), 4);
  });

  it("stub.connect() is not RPC", async () => {
    await using rt = await start();
    assert.throws(() => rt.env.ECHO.getByName("connect").connect("localhost:1"), TypeError);
  });

  it("stub.fetch() has Fetch semantics, not RPC semantics", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("fetch-not-rpc");
    // An RPC call would pass the object through; fetch() needs a URL or Request.
    await assert.rejects(stub.fetch({ method: "echo", args: [1] }), TypeError);
    await assert.rejects(stub.fetch("not a url"), TypeError);
    await assert.rejects(
      stub.fetch("https://do.example/not-a-response"),
      (error: unknown) =>
        error instanceof TypeError &&
        error.message.startsWith(
          "Incorrect type for Promise: the Promise did not resolve to 'Response'.",
        ),
    );
  });

  it("allows alarm-like names on an RpcTarget, but not constructor or dup", async () => {
    await using rt = await start();
    const session = await rt.env.ECHO.getByName("target-reserved").makeSession("r");
    assert.equal(await session.alarm(), "alarm on target");
    await assert.rejects(session.constructor(), notImplemented("constructor"));
    const copy = session.dup();
    assert.equal(await copy.describe(), "session r (1)");
  });
});

describe("structured clone of arguments and results", () => {
  it("a callee mutating its argument does not change the caller's value", async () => {
    await using rt = await start();
    const arg = { a: 1, nested: { b: 2 } };
    const out = await rt.env.ECHO.getByName("clone-arg").mutate(arg);
    assert.deepEqual(arg, { a: 1, nested: { b: 2 } });
    assert.deepEqual(out, { a: 99, nested: { b: 99 } });
  });

  it("a caller mutating its argument after the call, even before delivery, does not reach the object", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("clone-later");
    const arg = { a: 1, nested: { b: 2 } };
    const pending = stub.keep(arg);
    arg.a = 7; // before the call reached the object
    await pending;
    arg.nested.b = 8;
    assert.deepEqual(await stub.peek(), { a: 1, nested: { b: 2 } });
  });

  it("a caller mutating a result does not change the object, and each result is a new copy", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("clone-result");
    const list = await stub.getList();
    list.push(100);
    assert.deepEqual(await stub.getList(), [1, 2, 3]);
    assert.notEqual(await stub.getList(), await stub.getList());
  });

  it("an object mutating a value after returning it does not change what the caller got", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("clone-after-return");
    assert.deepEqual(await stub.getListThenChange(), [1, 2, 3]);
    assert.deepEqual(await stub.getList(), [1, 2, 3, 4]);
  });

  it("keeps Map, Set, Date, ArrayBuffer, typed arrays, bigint, RegExp, errors and special numbers", async () => {
    await using rt = await start();
    const value = {
      map: new Map<unknown, unknown>([
        ["k", { deep: new Set([1, 2]) }],
        [3, "three"],
      ]),
      set: new Set(["a", "b"]),
      date: new Date(1_700_000_000_000),
      buffer: new Uint8Array([1, 2, 3]).buffer,
      bytes: new Uint8Array([4, 5, 6]),
      floats: new Float64Array([1.5, -2]),
      big: 2n ** 70n,
      regex: /ab+c/gi,
      error: new RangeError("inside"),
      nothing: null,
      missing: undefined,
      nan: Number.NaN,
      negativeZero: -0,
      infinite: Number.POSITIVE_INFINITY,
      text: "héllo 🌍",
    };
    const out = await rt.env.ECHO.getByName("types").echo(value);
    assert.ok(out.map instanceof Map);
    assert.ok(out.map.get("k").deep instanceof Set);
    assert.deepEqual([...out.map.get("k").deep], [1, 2]);
    assert.equal(out.map.get(3), "three");
    assert.ok(out.set instanceof Set);
    assert.deepEqual([...out.set], ["a", "b"]);
    assert.ok(out.date instanceof Date);
    assert.equal(out.date.getTime(), 1_700_000_000_000);
    assert.ok(out.buffer instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(out.buffer)], [1, 2, 3]);
    assert.ok(out.bytes instanceof Uint8Array);
    assert.deepEqual([...out.bytes], [4, 5, 6]);
    assert.ok(out.floats instanceof Float64Array);
    assert.deepEqual([...out.floats], [1.5, -2]);
    assert.equal(out.big, 2n ** 70n);
    assert.ok(out.regex instanceof RegExp);
    assert.equal(out.regex.source, "ab+c");
    assert.equal(out.regex.flags, "gi");
    assert.ok(out.error instanceof RangeError);
    assert.equal(out.error.message, "inside");
    assert.equal(out.nothing, null);
    assert.ok("missing" in out);
    assert.equal(out.missing, undefined);
    assert.ok(Number.isNaN(out.nan));
    assert.ok(Object.is(out.negativeZero, -0));
    assert.equal(out.infinite, Number.POSITIVE_INFINITY);
    assert.equal(out.text, "héllo 🌍");
    assert.notEqual(out.buffer, value.buffer);
  });

  it("keeps cycles and shared references", async () => {
    await using rt = await start();
    const shared = { s: 1 };
    const cyclic: Record<string, unknown> = { label: "root", left: shared, right: shared };
    cyclic.self = cyclic;
    cyclic.list = [cyclic, shared];
    const map = new Map<string, unknown>();
    map.set("me", map);
    cyclic.map = map;
    const out = await rt.env.ECHO.getByName("cycles").echo(cyclic);
    assert.equal(out.label, "root");
    assert.equal(out.self, out);
    assert.equal(out.list[0], out);
    assert.equal(out.left, out.right);
    assert.equal(out.list[1], out.left);
    assert.equal(out.map.get("me"), out.map);
    assert.notEqual(out, cyclic);
  });
});

describe("values passed by reference", () => {
  it("functions passed as arguments are called back in the caller", async () => {
    await using rt = await start();
    const seen: number[] = [];
    const result = await rt.env.ECHO.getByName("callback").callBack((x: number) => {
      seen.push(x);
      return x * 2;
    }, 20);
    assert.deepEqual(result, [40, 42]);
    assert.deepEqual(seen, [20, 21]);
  });

  it("functions returned by the object keep their state and run asynchronously", async () => {
    await using rt = await start();
    const next = await rt.env.ECHO.getByName("closure").makeCounter();
    const first = next();
    assert.equal(typeof first.then, "function");
    assert.equal(await first, 1);
    assert.equal(await next(), 2);
  });

  it("calls on functions and RpcTargets an object returned run as events of that object, one at a time", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("gated-callbacks");
    const sequence = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
    const byFunction = await stub.incrementer();
    const a: number[] = await Promise.all(Array.from({ length: 100 }, () => byFunction()));
    assert.deepEqual(
      a.toSorted((x, y) => x - y),
      sequence(100),
    );
    const byMethod = await stub.increment;
    const b: number[] = await Promise.all(Array.from({ length: 100 }, () => byMethod()));
    assert.deepEqual(
      b.toSorted((x, y) => x - y),
      sequence(200).slice(100),
    );
    const tally = await stub.tally();
    const c: number[] = await Promise.all(Array.from({ length: 100 }, () => tally.bump()));
    assert.deepEqual(
      c.toSorted((x, y) => x - y),
      sequence(300).slice(200),
    );
    assert.equal(await stub.count(), 300);
  });

  it("an object's callback called by another object runs back in the first object", async () => {
    await using rt = await start();
    assert.deepEqual(await rt.env.ECHO.getByName("relay-a").relay("relay-b"), [15, 18]);
    assert.deepEqual(await rt.env.ECHO.getByName("relay-a").arrived(), [
      "callback 5",
      "callback 6",
    ]);
    assert.deepEqual(await rt.env.ECHO.getByName("relay-b").arrived(), []);
  });

  it("a returned RpcTarget becomes a stub: methods run on the one target, getters are awaitable, fields are not", async () => {
    await using rt = await start();
    const session = await rt.env.ECHO.getByName("target-out").makeSession("alpha");
    assert.equal(await session.describe(), "session alpha (1)");
    assert.equal(await session.describe(), "session alpha (2)");
    assert.equal(await session.title, "ALPHA");
    await assert.rejects(Promise.resolve(session.label), notImplemented("label"));
    await assert.rejects(session.calls(), notImplemented("calls"));
  });

  it("an RpcTarget passed as an argument is called by reference, in the caller", async () => {
    await using rt = await start();
    const { Session } = await fixture();
    const session = new Session("beta");
    assert.deepEqual(await rt.env.ECHO.getByName("target-in").useSession(session), [
      "session beta (1)",
      "BETA",
    ]);
    assert.equal(session.calls, 1, "the call ran on the caller's instance");

    class Local extends RpcTarget {
      describe() {
        return "local";
      }
      get title() {
        return "LOCAL";
      }
    }
    assert.deepEqual(await rt.env.ECHO.getByName("target-in").useSession(new Local()), [
      "local",
      "LOCAL",
    ]);
  });

  it("a stub received from one object can be passed on to another", async () => {
    await using rt = await start();
    const session = await rt.env.ECHO.getByName("target-a").makeSession("gamma");
    assert.deepEqual(await rt.env.ECHO.getByName("target-b").useSession(session), [
      "session gamma (1)",
      "GAMMA",
    ]);
    assert.equal(await session.describe(), "session gamma (2)");
  });

  it("rejects instances of other classes, as arguments and as results", async () => {
    await using rt = await start();
    const { Point } = await fixture();
    const stub = rt.env.ECHO.getByName("reject-classes");
    await assert.rejects(stub.takePoint(new Point()), unserializable("Point"));
    await assert.rejects(stub.takePoint([{ nested: new Point() }]), unserializable("Point"));
    class Local {
      v = 1;
    }
    await assert.rejects(stub.echo(new Local()), unserializable("Local"));
    await assert.rejects(stub.returnPoint(), unserializable("Point"));
    assert.equal(await stub.takePoint({ x: 1, y: 2 }), "accepted", "plain data is fine");
  });

  it("passes Request, Response and byte streams", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("http-types");
    const response = await stub.readRequest(
      new Request("https://do.example/", {
        method: "POST",
        body: "hi there",
        headers: { "x-in": "yes" },
      }),
    );
    assert.ok(response instanceof Response);
    assert.equal(await response.text(), "POST hi there");
    assert.equal(response.headers.get("x-seen"), "yes");
    const stream = await stub.streamBytes("hello stream");
    assert.ok(stream instanceof ReadableStream);
    assert.equal(await new Response(stream).text(), "hello stream");
  });
});

describe("RPC message size", () => {
  it("accepts large messages under 32 MiB and rejects larger ones, without breaking the stub", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("size");
    assert.equal(await stub.size("x".repeat(8 * MiB)), 8 * MiB);
    await assert.rejects(stub.size("x".repeat(33 * MiB)), tooLarge);
    await assert.rejects(stub.size(new ArrayBuffer(33 * MiB)), tooLarge);
    const sixteen = "y".repeat(16 * MiB);
    await assert.rejects(stub.echo([sixteen, sixteen, sixteen]), tooLarge);
    await assert.rejects(stub.big(33 * MiB), tooLarge);
    assert.equal((await stub.big(MiB)).length, MiB);
    assert.equal(await stub.add(1, 2), 3);
  });
});

describe("errors", () => {
  it("keep a standard error's type and message, and gain remote", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("errors");
    await assert.rejects(stub.throwTypeError(), (error: any) => {
      assert.equal(error instanceof TypeError, true);
      assert.equal(error.name, "TypeError");
      assert.equal(error.message, "wrong type of thing");
      assert.equal(error.remote, true);
      return true;
    });
    await assert.rejects(stub.throwRangeError(), (error: any) => {
      assert.equal(error instanceof RangeError, true);
      assert.equal(error.message, "out of range");
      assert.equal(error.remote, true);
      return true;
    });
  });

  it("keep a custom error's name, but not its other own properties or its stack", async () => {
    await using rt = await start();
    await assert.rejects(rt.env.ECHO.getByName("errors").throwCustom(), (error: any) => {
      assert.equal(error instanceof Error, true);
      assert.equal(error.name, "ValidationError");
      assert.equal(error.message, "name is required");
      assert.equal(error.remote, true);
      assert.equal(error.code, undefined);
      assert.ok(!String(error.stack).includes("rpc-worker.ts"), "the callee's stack is not sent");
      return true;
    });
  });

  it("do not keep cause", async () => {
    await using rt = await start();
    await assert.rejects(rt.env.ECHO.getByName("errors").throwWithCause(), (error: any) => {
      assert.equal(error.message, "outer failure");
      assert.equal(error.cause, undefined);
      assert.equal(error.remote, true);
      return true;
    });
  });

  it("from the constructor reach the caller as remote errors", async () => {
    await using rt = await start();
    await assert.rejects(rt.env.OTHER.getByName("explode").shout("x"), (error: any) => {
      assert.equal(error instanceof RangeError, true);
      assert.equal(error.message, "constructor refused this name");
      assert.equal(error.remote, true);
      return true;
    });
  });

  it("thrown by user code do not break the stub", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("not-broken");
    await assert.rejects(stub.throwTypeError(), TypeError);
    await assert.rejects(stub.nope(), TypeError);
    assert.equal(await stub.add(1, 2), 3);
  });
});

describe("broken stubs", () => {
  it("after the object is reset, every later call on that stub fails; a new stub reaches a new instance", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("broken");
    assert.equal(await stub.add(1, 2), 3);
    let reset: any;
    await assert.rejects(stub.abortMe(), (error: any) => {
      reset = error;
      assert.equal(error.message, "aborted by the test");
      assert.equal(error.remote, true);
      assert.equal(error.retryable, true);
      assert.equal(error.overloaded, false);
      return true;
    });
    for (const call of [() => stub.add(1, 2), () => stub.fetch("https://do.example/")]) {
      await assert.rejects(call(), (error: any) => {
        assert.equal(error.code, "STUB_BROKEN");
        assert.ok(error.message.includes(reset.message), error.message);
        assert.match(error.message, /Make a new stub/);
        assert.equal(error.retryable, true);
        return true;
      });
    }
    assert.equal((await constructionsOf(stub.id)).length, 1);
    const fresh = rt.env.ECHO.getByName("broken");
    assert.equal(await fresh.add(2, 2), 4);
    assert.equal((await constructionsOf(stub.id)).length, 2, "the constructor ran again");
  });
});

describe("stubs into a reset instance", () => {
  it("functions and RpcTargets handed out by an instance fail once it is reset", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("reset-callbacks");
    const next = await stub.incrementer();
    const tally = await stub.tally();
    assert.equal(await next(), 1);
    await assert.rejects(stub.abortMe(), /aborted by the test/);
    for (const call of [() => next(), () => tally.bump()]) {
      await assert.rejects(call(), (error: any) => {
        assert.equal(error.code, "STUB_BROKEN");
        assert.match(error.message, /reset or evicted/);
        return true;
      });
    }
    assert.equal(await rt.env.ECHO.getByName("reset-callbacks").count(), 1);
  });
});

describe("E-order", () => {
  it("delivers calls made on one stub without awaiting in call order, mixed with fetch", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("e-order");
    const expected: unknown[] = [];
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) {
      if (i % 10 === 5) {
        expected.push(`fetch ${i}`);
        calls.push(stub.fetch(`https://do.example/arrive?n=${i}`).then((r: Response) => r.json()));
      } else if (i % 10 === 7) {
        // A large argument must not let smaller calls overtake it.
        expected.push({ i, pad: "p".repeat(256 * 1024) });
        calls.push(stub.arrive({ i, pad: "p".repeat(256 * 1024) }));
      } else {
        expected.push(i);
        calls.push(stub.arrive(i));
      }
    }
    const positions = await Promise.all(calls);
    assert.deepEqual(
      positions.map((p) => (typeof p === "number" ? p : (p as { position: number }).position)),
      expected.map((_, i) => i + 1),
    );
    assert.deepEqual(await stub.arrived(), expected);
  });

  it("delivers calls in order when one object fires them at another", async () => {
    await using rt = await start();
    const positions = await rt.env.ECHO.getByName("e-order-caller").fanOut("e-order-callee", 200);
    assert.deepEqual(
      positions,
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      await rt.env.ECHO.getByName("e-order-callee").arrived(),
      Array.from({ length: 200 }, (_, i) => i),
    );
  });
});

describe("stub.fetch", () => {
  it("reaches the object's fetch with method, URL, headers and body, and returns its Response", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("fetcher");
    const response = await stub.fetch("https://do.example/path?q=1", {
      method: "PUT",
      headers: { "x-test": "yes" },
      body: "payload",
    });
    assert.ok(response instanceof Response);
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("x-from"), "echo");
    assert.deepEqual(await response.json(), {
      method: "PUT",
      url: "https://do.example/path?q=1",
      header: "yes",
      body: "payload",
      name: "fetcher",
    });
    const viaRequest = await stub.fetch(
      new Request("https://do.example/r", { method: "POST", body: "b" }),
    );
    assert.equal((await viaRequest.json()).body, "b");
  });

  it("on a class without fetch gives a clear error", async () => {
    await using rt = await start();
    await assert.rejects(
      rt.env.OTHER.getByName("no-fetch").fetch("https://do.example/"),
      (error: any) => {
        assert.match(error.message, /"Other" has no fetch\(\) handler/);
        return true;
      },
    );
    assert.equal(await rt.env.OTHER.getByName("no-fetch").shout("still works"), "STILL WORKS!");
  });
});

describe("object lifecycle and env", () => {
  it("constructs the object lazily, once, with (ctx, env)", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("lazy");
    assert.deepEqual(await constructionsOf(stub.id), []);
    await stub.add(1, 1);
    await stub.add(1, 1);
    const made = await constructionsOf(stub.id);
    assert.equal(made.length, 1);
    assert.deepEqual(made[0], {
      className: "Echo",
      id: stub.id.toString(),
      name: "lazy",
      argCount: 2,
      hasStorage: true,
      envKeys: ["ECHO", "GREETING", "OTHER"],
    });
  });

  it("env holds vars and namespaces, for the runtime and inside objects", async () => {
    await using rt = await start();
    assert.equal(rt.env.GREETING, "hi");
    assert.equal(typeof rt.env.ECHO.idFromName, "function");
    assert.deepEqual(await rt.env.ECHO.getByName("env").envSeen(), {
      greeting: "hi",
      echo: true,
      other: true,
    });
  });

  it("an object calls another object over RPC", async () => {
    await using rt = await start();
    assert.equal(await rt.env.ECHO.getByName("caller").askOther("callee", "hey"), "HEY!");
    const made = await constructionsOf(rt.env.OTHER.idFromName("callee"));
    assert.equal(made.length, 1);
    assert.equal(made[0]!.className, "Other");
  });
});

describe("concurrency", () => {
  it("1,000 concurrent read-modify-write increments from distinct stubs give exactly 1,000", async () => {
    await using rt = await start();
    const results: number[] = await Promise.all(
      Array.from({ length: 1000 }, () => rt.env.ECHO.getByName("thousand").increment()),
    );
    assert.deepEqual(
      results.toSorted((a, b) => a - b),
      Array.from({ length: 1000 }, (_, i) => i + 1),
    );
    assert.equal(await rt.env.ECHO.getByName("thousand").count(), 1000);
  });
});
