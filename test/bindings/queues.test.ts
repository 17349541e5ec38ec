import { queueCases } from "./queues.case.ts";

// Queues in <dataDir>/queues.sqlite, the default.
queueCases("the data directory", () => ({
  options: {},
  async [Symbol.asyncDispose]() {},
}));
