import { z } from "zod";

const className = z.string().regex(/^[A-Za-z_$][\w$]*$/, "must be a JavaScript class name");
const classList = z.array(className);

/** One migration, as wrangler config writes it; unknown keys are errors (they may be typos). */
export const migrationSchema = z
  .object({
    tag: z.string().min(1, 'must be a non-empty string, like "v1"'),
    new_sqlite_classes: classList.optional(),
    new_classes: classList.optional(),
    renamed_classes: z.array(z.object({ from: className, to: className }).strict()).optional(),
    deleted_classes: classList.optional(),
    transferred_classes: z
      .array(z.object({ from: className, from_script: z.string().optional(), to: className }))
      .optional(),
  })
  .strict();
