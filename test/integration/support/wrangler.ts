/** The integration tests run the real `wrangler dev`; the helper lives with the scripts that share it. */
export { freePort, startWranglerDev, type WranglerDev } from "../../../scripts/lib/wrangler.ts";
