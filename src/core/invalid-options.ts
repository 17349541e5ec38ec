// The one shape of every "Invalid <api> options" message, whether a schema or a later check
// found the problem.

/** One problem a schema found in an options object: where (`path`) and what (`message`). */
export interface OptionIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/**
 * The message for options an API was called with that failed validation, one line per problem,
 * each starting with the option's path, e.g.
 * `Invalid serve() options:\n  - port: Too big: expected number to be <=65535`.
 */
export function formatOptionProblems(api: string, problems: readonly string[]): string {
  return `Invalid ${api} options:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`;
}

/** `formatOptionProblems` for a schema's issues (zod's `error.issues`); the top level is `(options)`. */
export function formatOptionIssues(api: string, issues: readonly OptionIssue[]): string {
  return formatOptionProblems(
    api,
    issues.map(
      (issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(options)"}: ${issue.message}`,
    ),
  );
}
