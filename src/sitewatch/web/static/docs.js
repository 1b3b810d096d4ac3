/* /docs: Swagger UI (vendored from npm by `make web-assets`) over this server's OpenAPI. */
"use strict";

window.ui = SwaggerUIBundle({
  url: document.getElementById("swagger-ui").dataset.openapi,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  presets: [SwaggerUIBundle.presets.apis],
  deepLinking: false, // its links sit inside the operation buttons: nested controls (axe)
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null, // no call to validator.swagger.io
});
