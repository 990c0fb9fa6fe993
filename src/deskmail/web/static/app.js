// deskmail pages: send the CSRF cookie's value as the X-CSRFToken header with every htmx
// request (forms are boosted by hx-boost on <body>, so they go through htmx too).
// A static file, not inline script: the Content-Security-Policy allows only 'self'.
"use strict";

function deskmailCsrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === "csrftoken") {
      return decodeURIComponent(value.join("="));
    }
  }
  return "";
}

document.addEventListener("htmx:configRequest", (event) => {
  const token = deskmailCsrfToken();
  if (token) {
    event.detail.headers["X-CSRFToken"] = token;
  }
});
