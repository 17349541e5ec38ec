import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's templates directory: the apps `stead init` scaffolds. */
export const TEMPLATES = fileURLToPath(new URL("../../templates/", import.meta.url));

/**
 * Copies `templates/<name>` into `into` (without any `.stead` data) and returns the copy's path.
 * `edit` rewrites the copy's config text, for a test that needs a smaller limit or a shorter
 * time than the template ships with; it must change something.
 */
export async function copyTemplate(
  name: string,
  into: string,
  edit?: { file: string; replace: [search: string, replacement: string] },
): Promise<string> {
  const dir = join(into, name);
  await cp(join(TEMPLATES, name), dir, {
    recursive: true,
    filter: (source) => !source.split(/[\\/]/).includes(".stead"),
  });
  if (edit !== undefined) {
    const file = join(dir, edit.file);
    const before = await readFile(file, "utf8");
    const after = before.replace(edit.replace[0], edit.replace[1]);
    if (after === before) throw new Error(`${edit.file} has no ${edit.replace[0]} to replace`);
    await writeFile(file, after);
  }
  return dir;
}
