import { z } from "zod";

/** One `[[rules]]` entry, as wrangler config writes it. */
export const moduleRuleSchema = z
  .object({
    type: z.enum(["ESModule", "CommonJS", "Text", "Data", "CompiledWasm"], {
      error: 'must be one of "ESModule", "CommonJS", "Text", "Data", "CompiledWasm"',
    }),
    globs: z.array(z.string().min(1), { error: 'must be a list of globs, like ["**/*.md"]' }),
    fallthrough: z.boolean().optional(),
  })
  .strict();

/** `define`: identifier -> JavaScript expression (a string), as esbuild takes it. */
export const defineSchema = z.record(
  z.string().min(1),
  z.string({ error: 'must be a JavaScript expression as a string, like "\\"1.2.3\\"" or "true"' }),
);

/** `alias`: module name -> replacement module name or path. */
export const aliasSchema = z.record(
  z.string().min(1),
  z.string().min(1, { error: 'must be a module name or a path, like "./src/shim.ts"' }),
);

/** `build`: a custom build command run before bundling, as `wrangler dev` / deploy run it. */
export const customBuildSchema = z.object({
  command: z.string().min(1, { error: 'must be a shell command, like "npm run build"' }).optional(),
  cwd: z.string().min(1).optional(),
  watch_dir: z
    .union([z.string().min(1), z.array(z.string().min(1))], {
      error: 'must be a directory or a list of directories, like "./src"',
    })
    .optional(),
});
