/** Worker entry: the Hono app wired to the isolate's engine (model + codecs, built on first use). */
import { createApp } from "./http/app.ts";
import { getEngine } from "./engine/worker-engine.ts";

export default createApp({ getEngine });
