// The API's docs page: Swagger UI (vendored) on /api/v1/openapi.json. A file, not inline
// script, for the Content-Security-Policy.
"use strict";

window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: document.getElementById("swagger-ui").dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
  });
});
