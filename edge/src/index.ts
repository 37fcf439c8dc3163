import { createApp } from "./app.ts";

/** The live channel's Durable Object class (wrangler.toml `[[durable_objects.bindings]]` LIVE). */
export { LiveChannel } from "./live/channel.ts";

const app = createApp();

export default app;
