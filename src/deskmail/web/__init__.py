"""The web UI and the REST API, served by `deskmail serve` and `deskmail web`.

Conventions (keep them; the next screens and resources follow them):

- A screen is a router module in pages/ (GET route named like the NAV entry
  in navigation.py, templates/<screen>.html extending base.html), registered in
  app.py. Every route takes `user: PageViewer | PageAgent | PageAdmin`
  (security/roles.py); forms are posted by htmx (hx-boost on <body>) with the
  CSRF header added by static/app.js, and answer with templating.see_other().
- An API resource is a router module in api/ (pydantic models In/Out next to
  the routes) whose router comes from api/resource.resource_router(),
  registered in api/__init__.py. Every route takes
  `user: ApiViewer | ApiAgent | ApiAdmin`; errors are raised as
  problems.Problem / field_problem (RFC 9457); lists use pagination.paginate.
- Only this package imports FastAPI, Starlette, uvicorn, pwdlib and
  prometheus-client, and only `serve` and `web` import this package.
"""

import sys

# FastAPI imports pydantic.v1 (25 modules) only to refuse models of it,
# which deskmail has none of. Marked absent, that import fails and FastAPI takes
# every model for a pydantic 2 one, as it does where pydantic.v1 is gone.
sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]
