export { type AppBuild, BUILD_CONDITIONS, buildApp } from "./build-app.ts";
export type { BuildOptions } from "./build-options.ts";
export { DEFAULT_MODULE_RULES, type ModuleRule, type ModuleRuleType } from "./module-rules.ts";
