import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { TEMPLATES } from "../support/apps.ts";
import { openRaw, type RawConnection } from "../support/http-harness.ts";
import { startStead } from "../support/stead-process.ts";
import { skipUnless } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { waitFor } from "../support/wait-for.ts";

const COUNTER = join(TEMPLATES, "counter");
const EXPLAINED =
  /Cannot open the database of object Counter\/[0-9a-f]{64}: this process has run out of file descriptors \(EMFILE\)\. Raise the open-file limit \(ulimit -n, or LimitNOFILE= in a systemd unit\), or lower --max-connections \/ STEAD_MAX_CONNECTIONS or --max-open-databases \/ STEAD_MAX_OPEN_DATABASES\./;
const WARNING =
  /"level":"warn","msg":"Cannot open the database of object Counter\/[0-9a-f]{64}: this process has run out of file descriptors \(EMFILE\)/;

function post(path: string): string {
  return `POST ${path} HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\n\r\n`;
}

/** The process's RLIMIT_NOFILE, to restore after the test has lowered it. */
function openFileLimit(pid: number): { soft: string; hard: string } {
  const out = execFileSync("prlimit", [
    `--pid=${pid}`,
    "--nofile",
    "--raw",
    "--noheadings",
    "--output=SOFT,HARD",
  ]);
  const [soft, hard] = out.toString().trim().split(/\s+/);
  return { soft: soft!, hard: hard! };
}

describe("running out of file descriptors", {
  skip: skipUnless("localFiles", "runs out of descriptors for the object database files"),
}, () => {
  it("names the cause and the fix for a new object, and logs it once a minute", async () => {
    using data = tempDataDir();
    await using stead = await startStead("start", [COUNTER, "--data-dir", data.path]);
    const port = Number(new URL(stead.url).port);
    const pid = stead.child.pid!;
    // A kept-alive connection, served before descriptors run out.
    using served = openRaw(port);
    served.socket.write(post("/warm"));
    await waitFor(() => served.received().includes('"value":1'), "the first response");

    // Leave the process a few descriptors more than it holds (RLIMIT_NOFILE of the running
    // process), then take them with more connections than that: libuv accepts and at once closes
    // those it has no descriptor for.
    const held = readdirSync(`/proc/${pid}/fd`).length;
    const limit = openFileLimit(pid);
    execFileSync("prlimit", [`--pid=${pid}`, `--nofile=${held + 4}:${limit.hard}`]);
    const fillers: RawConnection[] = [];
    try {
      for (let i = 0; i < 10; i++) fillers.push(openRaw(port));
      await Promise.any(fillers.map((filler) => filler.closed));

      // A new object cannot open its database: the answer says why and what to change.
      for (const path of ["/fresh", "/fresh-too"]) {
        const before = served.received().length;
        served.socket.write(post(path));
        await waitFor(
          () => /\r\n\r\n.+\n/.test(served.received().slice(before)),
          `the answer for ${path}`,
        );
        const answer = served.received().slice(before);
        assert.match(answer, /^HTTP\/1\.1 503 /);
        assert.match(answer, EXPLAINED);
      }
      // The log says it too, once however often it happens in a minute.
      await waitFor(() => WARNING.test(stead.stderr()), "the warning line");
      assert.equal(stead.stderr().split(WARNING).length - 1, 1, stead.stderr());
    } finally {
      for (const filler of fillers) filler.socket.destroy();
    }
    // With descriptors free again (the limit restored, the fillers closed), new objects open.
    execFileSync("prlimit", [`--pid=${pid}`, `--nofile=${limit.soft}:${limit.hard}`]);
    await waitFor(() => readdirSync(`/proc/${pid}/fd`).length < held + 2, "descriptors to free");
    const after = served.received().length;
    served.socket.write(post("/later"));
    await waitFor(() => served.received().slice(after).includes('"value":1'), "a new object");
  });
});
