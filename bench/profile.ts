// Summarizes V8 CPU profiles: `node bench/profile.ts <file.cpuprofile>... [--top N] [--match s]`.
// A profile written by `npm run bench -- --cpu-prof` has a window.json beside it: then only the
// measured window is summarized. `--match` also lists inclusive time of functions whose name
// contains any of the comma-separated strings.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { formatProfileSummary, summarizeProfile, type TimeWindow } from "./lib/profile-summary.ts";

const { values, positionals } = parseArgs({
  options: { top: { type: "string", default: "25" }, match: { type: "string" } },
  allowPositionals: true,
});
const top = Number(values.top);
if (positionals.length === 0 || !Number.isInteger(top)) {
  process.stderr.write(
    "usage: node bench/profile.ts <file.cpuprofile>... [--top N] [--match a,b]\n",
  );
  process.exit(2);
}
for (const file of positionals) {
  const windowFile = join(dirname(file), "window.json");
  const window = existsSync(windowFile)
    ? (JSON.parse(readFileSync(windowFile, "utf8")) as TimeWindow)
    : undefined;
  const summary = summarizeProfile(file, window);
  process.stdout.write(
    `== ${file}${window ? " (measured window)" : " (whole profile)"}\n${formatProfileSummary(summary, top)}\n`,
  );
  if (values.match !== undefined) {
    const needles = values.match.split(",");
    process.stdout.write("\ninclusive time of matching functions:\n");
    for (const share of summary.inclusive.filter((s) => needles.some((n) => s.name.includes(n)))) {
      process.stdout.write(`  ${(share.share * 100).toFixed(1).padStart(5)}%  ${share.name}\n`);
    }
  }
  process.stdout.write("\n");
}
