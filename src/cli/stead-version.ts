import { readFileSync } from "node:fs";

let version: string | undefined;

/** This Stead's version (package.json; the same path from src/cli and dist/cli). */
export function steadVersion(): string {
  version ??= (
    JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version: string;
    }
  ).version;
  return version;
}
