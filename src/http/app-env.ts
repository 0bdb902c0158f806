/** The types every part of the HTTP layer shares: the app's bindings and variables, and what it is given. */
import type { Env } from "../config/config.ts";
import type { Engine } from "../engine/engine.ts";
import type { LogVars } from "./request-log.ts";

export type AppEnv = { Bindings: Env } & LogVars;

export interface AppDeps {
  /** Memoised per isolate by the provider; called lazily inside requests. */
  getEngine: () => Promise<Engine>;
}
