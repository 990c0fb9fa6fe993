"""The API's docs page: the vendored Swagger UI reading /api/v1/openapi.json (works offline)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from deskmail.web.api.resource import resource_router
from deskmail.web.security.roles import PageViewer

router = resource_router(include_in_schema=False)
SWAGGER = "vendor/swagger-ui-5.36.0"


@router.get("/docs", name="api_docs")
def docs(request: Request, user: PageViewer) -> HTMLResponse:
    css = request.url_for("static", path=f"{SWAGGER}/swagger-ui.css")
    bundle = request.url_for("static", path=f"{SWAGGER}/swagger-ui-bundle.js")
    start = request.url_for("static", path="docs.js")
    openapi = request.app.openapi_url
    return HTMLResponse(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>deskmail API</title>
<link rel="stylesheet" href="{css}"></head>
<body><main><h1 class="visually-hidden">deskmail API</h1>
<div id="swagger-ui" data-openapi="{openapi}"></div></main>
<script src="{bundle}"></script><script src="{start}"></script></body></html>"""
    )
