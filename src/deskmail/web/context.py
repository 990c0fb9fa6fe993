"""What every page and endpoint works with, set once on the application."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from deskmail.config.models import DeskmailConfig, WebConfig
from deskmail.store.engine import Store
from deskmail.web.job_control import JobControl
from deskmail.web.sign_ins import PendingSignIns


@dataclass(slots=True)
class WebContext:
    config: DeskmailConfig
    web: WebConfig
    store: Store
    jobs: JobControl
    sign_ins: PendingSignIns  # OAuth2 sign-ins under way, in the database
    runs_jobs: bool = False  # deskmail serve (a scheduler here) rather than deskmail web


def context_of(request: Request) -> WebContext:
    context: WebContext = request.app.state.deskmail
    return context
