export type {
  AssetsOptions,
  HtmlHandling,
  NotFoundHandling,
  ResolvedAssets,
} from "./asset-options.ts";
export { resolveAssets } from "./asset-options.ts";
export { AssetServer } from "./asset-server.ts";
export { type AssetsBinding, assetsBinding } from "./assets-binding.ts";
