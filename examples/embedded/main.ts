// Runs the example Worker inside this process with createRuntime and calls it a few times.
// The data lives in .stead/embedded-example, so the counts go on from run to run.
import { createRuntime } from "stead";

await using rt = await createRuntime({
  main: new URL("./worker.ts", import.meta.url),
  durableObjects: { COUNTER: "Counter" },
  dataDir: ".stead/embedded-example",
});

for (const path of ["/apples", "/apples", "/pears"]) {
  const response = await rt.fetch(`http://localhost${path}`);
  process.stdout.write(await response.text());
}
const direct = await rt.env.COUNTER.getByName("apples").increment();
console.log(`apples via RPC: ${direct}`);
