import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProgressBar } from "./progress.ts";

/** A stream that records what is written, as a terminal or not. */
function stream(isTTY: boolean) {
  const written: string[] = [];
  return { isTTY, columns: 100, written, write: (text: string) => written.push(text) };
}

describe("ProgressBar", () => {
  it("draws rate and ETA on a terminal, at most every 100 ms, and clears itself", () => {
    let now = 0;
    const out = stream(true);
    const bar = new ProgressBar("Backing up", out, () => now);
    bar.start(1000);
    bar.advance(10);
    assert.equal(out.written.length, 0, "nothing in the first quarter second");
    now = 500;
    for (let i = 0; i < 249; i++) bar.advance(10);
    assert.equal(out.written.length, 1, "one redraw, however many objects");
    assert.ok(out.written[0]!.endsWith("\u001b[K"), "the rest of the line is cleared");
    assert.match(out.written[0]!, /^\rBacking up \[-+\] {3}0% 2\/1,000 objects /);
    assert.match(
      bar.line(),
      /^Backing up \[#+-+\] {2}25% 250\/1,000 objects {2}500\/s {2}ETA 0:02$/,
    );
    now = 550;
    bar.advance(10);
    assert.equal(out.written.length, 1);
    now = 2000;
    bar.advance(10);
    assert.equal(out.written.length, 2);
    assert.match(bar.done(), /^252 objects \(2\.5 KB\) in 2\.0 s, 126 objects\/s$/);
    assert.equal(out.written.at(-1), "\r\x1b[K");
  });

  it("writes nothing but the summary when not on a terminal", () => {
    let now = 0;
    const out = stream(false);
    const bar = new ProgressBar("Exporting", out, () => now);
    bar.start(undefined);
    for (let i = 0; i < 10; i++) {
      now += 1000;
      bar.advance(1);
    }
    assert.deepEqual(out.written, []);
    assert.equal(bar.done(), "10 objects (10 B) in 10.0 s, 1 objects/s");
    assert.deepEqual(out.written, []);
  });
});
