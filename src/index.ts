/** Worker entry: the Hono app wired to the isolate's engine (model + codecs, built on first use). */
import { createApp } from "./app.ts";
import { getEngine } from "./engine-worker.ts";

export default createApp({ getEngine });
