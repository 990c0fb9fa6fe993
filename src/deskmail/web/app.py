"""The web application: FastAPI with the pages, the API, the operations endpoints.

create_app() is the only entry; `deskmail serve` and `deskmail web` call it
(through server.py) and nothing else imports this package, so a command that
runs jobs only never loads FastAPI.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from deskmail.config.models import DeskmailConfig, WebConfig
from deskmail.store.engine import Store
from deskmail.store.sealing import key_file_for, sealing_keys
from deskmail.web.api import PREFIX, api_routers
from deskmail.web.context import WebContext
from deskmail.web.job_control import JobControl
from deskmail.web.mail_view import routes as mail_view
from deskmail.web.ops.metrics import metrics_registry
from deskmail.web.ops.routes import router as ops_router
from deskmail.web.pages import (
    auth,
    directory,
    events,
    job_editor,
    job_sign_in,
    jobs,
    live,
    quarantine,
    runs,
    simulator,
    tickets,
    tokens,
    users,
    webhooks,
)
from deskmail.web.pages.errors import install_page_errors
from deskmail.web.problems import install_api_problems
from deskmail.web.security.csrf import COOKIE, EXEMPT, HEADER, PageCSRFMiddleware, shared_secret
from deskmail.web.security.headers import SecurityHeadersMiddleware
from deskmail.web.sign_ins import PendingSignIns

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(
    config: DeskmailConfig,
    store: Store,
    *,
    web: WebConfig | None = None,
    jobs_control: JobControl | None = None,
    runs_jobs: bool = False,
) -> FastAPI:
    """The application for `config` on `store` (migrated to the current schema).

    `jobs_control`: how Run now and Enable/Disable act (serve passes one that
    wakes its workers); `runs_jobs`: whether this process runs the scheduler.
    """
    web = web or config.web or WebConfig()
    context = WebContext(
        config=config,
        web=web,
        store=store,
        jobs=jobs_control or JobControl(config, store),
        sign_ins=PendingSignIns(store, lambda: sealing_keys(key_file_for(config.source_file))),
        runs_jobs=runs_jobs,
    )
    app = FastAPI(
        title="deskmail",
        summary="Mailboxes turned into service-desk tickets: the REST API",
        version="1",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,  # our own page, with a vendored Swagger UI (api/docs.py)
        redoc_url=None,
    )
    app.state.deskmail = context
    app.state.metrics_registry = metrics_registry(store)
    install_page_errors(app)
    install_api_problems(app)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    screens = (
        auth, jobs, tickets, events, mail_view, directory, job_editor, job_sign_in,
        runs, quarantine, simulator, live, webhooks, tokens, users,
    )  # fmt: skip
    # The routers' routes as they are, not include_router(): FastAPI would keep them
    # and build a second copy of each for the inclusion (api/resource.py).
    for router in (ops_router, *api_routers(), *(screen.router for screen in screens)):
        app.router.routes.extend(router.routes)

    # Outermost last: headers on every answer, CSRF refusals included.
    app.add_middleware(
        PageCSRFMiddleware,
        secret=shared_secret(store),
        exempt_urls=EXEMPT,
        cookie_name=COOKIE,
        header_name=HEADER,
        cookie_secure=web.uses_tls,
        cookie_samesite="strict",
    )
    app.add_middleware(SecurityHeadersMiddleware, tls=web.uses_tls)
    return app
