export {
  type ServiceBindingOptions,
  type ServiceTarget,
  serviceBinding,
} from "./service-binding.ts";
export { serviceEntrypointProblems } from "./service-entrypoints.ts";
