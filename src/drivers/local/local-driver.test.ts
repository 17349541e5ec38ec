import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { storageDriverConformance } from "../../testing/storage-driver.case.ts";
import { LocalDriver } from "./local-driver.ts";

storageDriverConformance("local", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "stead-local-driver-"));
  let driver = new LocalDriver({ dataDir });
  return {
    get driver() {
      return driver;
    },
    async restart() {
      await driver.close();
      driver = new LocalDriver({ dataDir });
      return driver;
    },
    async [Symbol.asyncDispose]() {
      await driver.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
