import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type OpenDatabase, OpenDatabases } from "./open-databases.ts";

/** A stand-in connection that records whether it is open (the policy is what is tested). */
class Connection implements OpenDatabase {
  used = false;
  held = false;
  open = false;
  readonly key: string;
  readonly #cache: OpenDatabases<Connection>;

  constructor(cache: OpenDatabases<Connection>, key: string) {
    this.#cache = cache;
    this.key = key;
  }

  /** One event on the object: opens the connection, or marks it used again. */
  use(): void {
    if (this.open) this.used = true;
    else {
      this.#cache.opening(this);
      this.open = true;
    }
  }

  disconnect(): void {
    this.open = false;
    this.#cache.closed(this);
  }
}

function setUp(max: number) {
  const cache = new OpenDatabases<Connection>(max);
  const connections = new Map<string, Connection>();
  const use = (key: string) => {
    let connection = connections.get(key);
    if (!connection) connections.set(key, (connection = new Connection(cache, key)));
    connection.use();
    return connection;
  };
  const isOpen = (key: string) => connections.get(key)?.open ?? false;
  return { cache, use, isOpen };
}

describe("open databases (2Q)", () => {
  it("never keeps more than the limit open", () => {
    const { cache, use } = setUp(10);
    for (let i = 0; i < 1_000; i++) {
      use(`k${(i * 7) % 37}`);
      assert.ok(cache.size <= 10, `${cache.size} open`);
    }
  });

  it("keeps objects in steady use open while a scan of one-off objects passes", () => {
    const { cache, use, isOpen } = setUp(100);
    const hot = Array.from({ length: 50 }, (_, i) => `hot${i}`);
    // Twice round the hot set with a scan in between: the second opening proves them hot.
    for (const key of hot) use(key);
    for (let i = 0; i < 100; i++) use(`warmup${i}`);
    for (const key of hot) use(key);
    for (let i = 0; i < 10_000; i++) {
      use(`cold${i}`);
      if (i % 20 === 0) for (const key of hot) use(key);
    }
    assert.deepEqual(
      hot.filter((key) => !isOpen(key)),
      [],
      "no hot object was closed by the scan",
    );
    assert.ok(cache.size <= 100);
  });

  it("keeps an object used again while in probation, without closing it first", () => {
    const { use, isOpen } = setUp(100);
    use("soon-back");
    for (let i = 0; i < 10; i++) use(`cold${i}`);
    use("soon-back");
    for (let i = 10; i < 1_000; i++) use(`cold${i}`);
    assert.ok(isOpen("soon-back"));
  });

  it("closes objects opened once soon, so they hold little memory", () => {
    const { cache, use } = setUp(1_000);
    for (let i = 0; i < 10_000; i++) use(`cold${i}`);
    assert.ok(cache.size <= 64, `${cache.size} one-off connections still open`);
  });

  it("never closes a held connection, exceeding the limit instead", () => {
    const { cache, use } = setUp(2);
    const held = ["a", "b", "c"].map((key) => {
      const connection = use(key);
      connection.held = true;
      return connection;
    });
    assert.ok(held.every((connection) => connection.open));
    assert.equal(cache.size, 3);
    for (const connection of held) connection.held = false;
    use("d");
    assert.ok(cache.size <= 2);
  });
});
