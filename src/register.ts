/**
 * `node --import stead/register app.ts`: makes `cloudflare:workers` importable by every module
 * of the process, including modules imported statically before Stead's own code runs.
 */
import { registerWorkersModule } from "./embedded/module-loader.ts";

registerWorkersModule();
