// The end-to-end tests' HTTP calls to a server under test, with global fetch.
import assert from "node:assert/strict";
import { eventually } from "./wait-for.ts";

/** Fetches `url` and returns the status and the JSON body, whatever the status. */
export async function fetchJson<T = any>(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: T }> {
  const response = await fetch(url, init);
  return { status: response.status, body: (await response.json()) as T };
}

/** Fetches `url`, which must answer 2xx, and returns the JSON body. */
export async function okJson<T = any>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  const text = await response.text();
  assert.ok(response.ok, `${init?.method ?? "GET"} ${url}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Waits until GET `url` answers the text `expected` (a server restarting, an app rebuilding). */
export async function answers(url: string, expected: string): Promise<void> {
  await eventually(
    `${url} to answer "${expected}"`,
    async () => ((await (await fetch(url)).text()) === expected ? true : undefined),
    { timeoutMs: 10_000 },
  );
}
