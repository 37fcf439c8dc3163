/**
 * Swagger UI's browser bundle and stylesheet (npm swagger-ui-dist), inlined into the worker as
 * text at build time (esbuild's `with { type: "text" }`), so /docs needs no CDN and renders
 * offline. Loaded with a dynamic import by the /docs asset routes only: nothing else pays for
 * evaluating these ~2 MB of strings, and Node (scripts, unit tests) never loads this module.
 */
/// <reference path="./assets.d.ts" />

import SWAGGER_UI_CSS from "swagger-ui-dist/swagger-ui.css" with { type: "text" };
import SWAGGER_UI_JS from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "text" };

export { SWAGGER_UI_CSS, SWAGGER_UI_JS };
