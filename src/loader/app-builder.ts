import { createHash } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, extname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type BuildContext, context, type Message } from "esbuild";
import { esbuildOptionsFor } from "./build-app.ts";
import { createBuildDir, removeBuildDir } from "./build-dir.ts";
import { buildError } from "./build-error.ts";
import type { BuildOptions } from "./build-options.ts";

/** One build of an {@link AppBuilder}: a bundle file, and every file it was built from. */
export interface AppRebuild {
  /** The bundle's `file:` URL; each build has its own. */
  readonly url: string;
  /** Absolute paths of the files esbuild read: sources, dependencies, module-rule files. */
  readonly inputs: readonly string[];
  /** A digest of the bundle: two builds with the same digest run the same code. */
  readonly digest: string;
  /** How long esbuild took, in milliseconds. */
  readonly durationMs: number;
  /** Removes this build's bundle; call once no process will import it again. */
  dispose(): void;
}

/** Builds one app again and again, reusing esbuild's work for files that did not change. */
export interface AppBuilder {
  /**
   * Builds the app as `buildApp` does, into a new file. Throws `BUILD_FAILED` (as `buildApp`);
   * the files the errors point at are then `failedFiles(error)`. Not concurrently.
   */
  rebuild(): Promise<AppRebuild>;
  /** Stops esbuild's context and removes every bundle it wrote. */
  dispose(): Promise<void>;
}

/**
 * An incremental builder for `stead dev`, as wrangler keeps an esbuild context: a rebuild after
 * an edit parses only what changed. The bundles go to one directory under the system's temporary
 * directory, a subdirectory per build, so a process still running an older build keeps its file.
 *
 * @example
 * const builder = await createAppBuilder({ entry: "/srv/app/src/index.ts", projectRoot: "/srv/app" });
 * const first = await builder.rebuild();
 */
export async function createAppBuilder(options: BuildOptions): Promise<AppBuilder> {
  const dir = createBuildDir();
  const name = `${basename(options.entry, extname(options.entry))}.mjs`;
  const esbuildOptions = esbuildOptionsFor(options);
  // Every build lands in a sibling of `out/`, so the source map's relative paths stay right.
  const ctx: BuildContext<{ metafile: true; write: false }> = await context({
    ...esbuildOptions,
    outfile: join(dir, "out", name),
    write: false,
    metafile: true,
  });
  let count = 0;
  return {
    async rebuild() {
      const started = performance.now();
      let result: Awaited<ReturnType<typeof ctx.rebuild>>;
      try {
        result = await ctx.rebuild();
      } catch (error) {
        throw await buildError(error, options, esbuildOptions);
      }
      const buildDir = join(dir, String(++count));
      mkdirSync(buildDir);
      const digest = createHash("sha256");
      for (const file of result.outputFiles) {
        writeFileSync(join(buildDir, basename(file.path)), file.contents);
        if (file.path.endsWith(".mjs")) digest.update(file.contents);
      }
      return {
        url: pathToFileURL(join(buildDir, name)).href,
        inputs: Object.keys(result.metafile.inputs).flatMap((input) => {
          const path = inputPath(input, options.projectRoot);
          return path === undefined ? [] : [path];
        }),
        digest: digest.digest("hex"),
        durationMs: performance.now() - started,
        dispose: () => rmSync(buildDir, { recursive: true, force: true }),
      };
    },
    async dispose() {
      await ctx.dispose();
      removeBuildDir(dir);
    },
  };
}

/** The absolute paths of the files a `BUILD_FAILED` error from `rebuild` points at. */
export function failedFiles(error: unknown, projectRoot: string): string[] {
  const messages = ((error as { cause?: { errors?: Message[] } }).cause?.errors ?? []) as Message[];
  return messages.flatMap((message) => {
    const file = message.location?.file;
    if (file === undefined) return [];
    const path = inputPath(file, projectRoot);
    return path === undefined ? [] : [path];
  });
}

/**
 * A metafile input's path: relative to the project root, or `<namespace>:<absolute path>` for a
 * file a plugin loaded (module rules). Inputs without a file behind them are skipped.
 */
function inputPath(input: string, projectRoot: string): string | undefined {
  const namespaced = /^[\w-]+:(.*)$/.exec(input);
  if (namespaced !== null) return isAbsolute(namespaced[1]!) ? namespaced[1] : undefined;
  return resolve(projectRoot, input);
}
