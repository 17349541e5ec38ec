import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RequestLogRecord } from "../server/request-log.ts";
import { requestLine } from "./logger.ts";

describe("request log lines", () => {
  it("are exactly what JSON.stringify writes for the record", () => {
    const records: RequestLogRecord[] = [
      { requestId: "a1", method: "GET", path: "/w4", status: 200, durationMs: 1.234, bytes: 35 },
      {
        requestId: "b2",
        method: "GET",
        path: "/a\tb\u007f~ !",
        status: 200,
        durationMs: 1,
        bytes: 0,
      },
      {
        requestId: 'x"y',
        method: "POST",
        path: '/q?a="b"&c=\\d',
        status: 503,
        durationMs: 0.001,
        bytes: 0,
      },
      {
        requestId: "abcdef012345000001",
        method: "GET",
        path: "/héllo\u2028\u{1F600}",
        status: 499,
        durationMs: 12_345.678,
        bytes: 10,
        aborted: true,
        error: 'Error: "bad"\n    at x (file.ts:1:2)\u0000',
      },
    ];
    for (const record of records) {
      const line = requestLine(record);
      assert.ok(line.endsWith("}\n"));
      const { time } = JSON.parse(line) as { time: string };
      assert.match(time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const level = record.status >= 500 ? "error" : "info";
      assert.equal(line, `${JSON.stringify({ time, level, msg: "request", ...record })}\n`);
    }
  });
});
