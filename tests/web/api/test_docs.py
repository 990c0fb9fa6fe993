"""The OpenAPI document and its self-hosted docs page (no CDN: works offline)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from deskmail.store.accounts import Role
from tests.web.conftest import LiveWeb


def test_the_openapi_document_lists_the_api_and_its_problems(web: LiveWeb) -> None:
    document = web.client().get("/api/v1/openapi.json").json()
    paths = document["paths"]
    assert {"/api/v1/me", "/api/v1/tokens", "/api/v1/users", "/api/v1/jobs", "/api/v1/tickets"} <= (
        paths.keys()
    )
    assert not any(path in paths for path in ("/jobs", "/login", "/api/v1/docs"))  # pages
    answers = paths["/api/v1/tickets"]["get"]["responses"]
    problem = answers["422"]["content"]["application/problem+json"]["schema"]
    schemas = document["components"]["schemas"]
    described = schemas[problem["$ref"].removeprefix("#/components/schemas/")]
    assert {"type", "title", "status", "detail", "errors"} <= described["properties"].keys()
    errors = described["properties"]["errors"]["anyOf"][0]["items"]["$ref"]
    assert schemas[errors.removeprefix("#/components/schemas/")]["required"] == ["field", "problem"]


def test_the_docs_page_shows_the_api_from_vendored_files(web: LiveWeb) -> None:
    page = web.page(Role.VIEWER)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/api/v1/docs")
    # Swagger UI renders the whole document (some 100 operations) before the first path
    # shows: a loaded machine takes well over expect()'s default 5 s.
    expect(page.get_by_text("/api/v1/tickets", exact=True).first).to_be_visible(timeout=60_000)
    assert all(url.startswith(web.url) for url in requested)
    assert any(re.search(r"/static/vendor/swagger-ui-5\.36\.0/", url) for url in requested)
