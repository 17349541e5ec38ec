// `npm run build` (and `npm pack`, through prepack): the published package's dist/. The
// JavaScript and .d.ts of src/ come from tsc; the web console's static files (HTML, CSS and the
// browser's ES modules, served as they are) are copied beside the admin listener's built module,
// which serves them from there, as it serves them from src/admin/console/ in the repository.
//
//   node scripts/build.ts [--out-dir DIR]    (default: dist)
import { execFileSync } from "node:child_process";
import { cpSync } from "node:fs";
import { extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const REPO = fileURLToPath(new URL("../", import.meta.url));
/** What the console serves (console-files.ts); its tsconfig.json stays behind. */
const CONSOLE_FILES = new Set([".html", ".css", ".js", ".svg"]);

const { values } = parseArgs({ options: { "out-dir": { type: "string", default: "dist" } } });
const outDir = resolve(REPO, values["out-dir"]);
const tsc = join(REPO, "node_modules", "typescript", "bin", "tsc");
execFileSync(process.execPath, [tsc, "-p", join(REPO, "tsconfig.build.json"), "--outDir", outDir], {
  stdio: "inherit",
});
cpSync(join(REPO, "src", "admin", "console"), join(outDir, "admin", "console"), {
  recursive: true,
  filter: (source) => extname(source) === "" || CONSOLE_FILES.has(extname(source)),
});
