// Modules the Worker imports as text, by the "rules" in wrangler.jsonc.

declare module "*.html" {
  const text: string;
  export default text;
}

/** The editor's script, bundled by the build command in wrangler.jsonc. */
declare module "*/build/editor.js" {
  const source: string;
  export default source;
}
