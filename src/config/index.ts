export { type DevVars, readDevVars } from "./dev-vars.ts";
export {
  CONFIG_FILE_NAMES,
  DEPLOY_CONFIG_PATH,
  type FoundConfigFile,
  findConfigDirUpward,
  findConfigFile,
} from "./find-config-file.ts";
export {
  type AppConfig,
  type CustomBuild,
  type LoadAppConfigOptions,
  loadAppConfig,
} from "./load-app-config.ts";
export type { WranglerConfig } from "./wrangler-schema.ts";
