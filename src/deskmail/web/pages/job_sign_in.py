""" "Sign in with Microsoft" for a job that signs in as a person (oauth2.flow = "delegated").

The administrator follows the link (the sign-in under way is kept in the database,
web/sign_ins.py, so the answer may come back to another front end); the identity
provider signs the person in and posts the answer back to the callback, which finishes
the authorization-code flow with PKCE (msal, auth/microsoft.py) and keeps the tokens,
sealed, as `deskmail auth login` does. The callback comes from the identity provider's
page, a cross-site post that carries neither our session (its cookie is SameSite=Strict)
nor a CSRF token: the sign-in's state, known only to the server and that page, stands
for both.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from deskmail.config.errors import ConfigError
from deskmail.config.oauth2 import OAuth2Flow
from deskmail.jobs.secrets import UnreadableSecrets
from deskmail.store.sealing import SecretKeyError
from deskmail.web.context import context_of
from deskmail.web.security.principal import Principal
from deskmail.web.security.roles import PageAdmin
from deskmail.web.templating import render

router = APIRouter(include_in_schema=False)
CALLBACK_PATH = "/jobs/sign-in/callback"


@router.get("/jobs/{name}/sign-in", name="job_sign_in")
def start(request: Request, user: PageAdmin, name: str) -> Response:
    from deskmail.auth.tokens import job_tokens, sign_in_command
    from deskmail.sources.errors import SourceError

    context = context_of(request)
    try:
        job = context.jobs.runnable(name)
    except KeyError:
        return _answer(request, user, 404, "Not found", f"No job named {name!r}.")
    except (ConfigError, UnreadableSecrets, SecretKeyError) as exc:
        return _answer(request, user, 409, "Cannot sign in", f"{name}: {exc}")
    if job.oauth2 is None or job.oauth2.flow is not OAuth2Flow.DELEGATED:
        return _answer(
            request,
            user,
            409,
            "Nobody signs in",
            f'{name} signs in without a person (no oauth2, or oauth2.flow = "app").',
        )
    try:
        tokens = job_tokens(job, context.store)
        assert tokens is not None
        begin = getattr(tokens.sign_in, "start_web_sign_in", None)
        if begin is None:
            return _answer(
                request,
                user,
                409,
                "Sign in from the command line",
                f"Signing in with {job.oauth2.provider.value} from the web is not available:"
                f" run {sign_in_command(job)}",
            )
        flow = begin(str(request.url_for("job_sign_in_callback")))
    except ConfigError as exc:
        return _answer(request, user, 409, "Cannot sign in", f"{name}: {exc}")
    except SourceError as exc:
        message = f"{name}: sign-in failed at {exc.step.value}: {exc.detail}"
        return _answer(request, user, 502, "Sign-in failed", message)
    try:
        context.sign_ins.add(name, user.name, flow)
    except SecretKeyError as exc:
        return _answer(request, user, 409, "Cannot sign in", f"{name}: {exc}")
    return RedirectResponse(str(flow["auth_uri"]), status_code=303)


@router.post(CALLBACK_PATH, name="job_sign_in_callback")
async def callback(request: Request) -> Response:
    async with request.form() as data:
        answer = {key: str(value) for key, value in data.items()}
    return _finish(request, answer)


@router.get(CALLBACK_PATH, name="job_sign_in_redirect")
def redirect_callback(request: Request) -> Response:
    return _finish(request, dict(request.query_params))


def _finish(request: Request, answer: dict[str, str]) -> Response:
    from deskmail.auth.tokens import job_tokens
    from deskmail.sources.errors import SourceError

    context = context_of(request)
    try:
        pending = context.sign_ins.take(answer.get("state", ""))
    except SecretKeyError as exc:
        return _answer(request, None, 409, "Cannot sign in", str(exc))
    if pending is None:
        return _answer(
            request,
            None,
            400,
            "Sign-in not recognised",
            "This sign-in is unknown or has expired: start it again from the job's page.",
        )
    try:
        job = context.jobs.runnable(pending.job)
        tokens = job_tokens(job, context.store)
        assert tokens is not None
        claims = tokens.sign_in.finish_web_sign_in(pending.flow, answer)  # type: ignore[attr-defined]
    except KeyError:
        return _answer(request, None, 404, "Not found", f"The job {pending.job!r} is gone.")
    except (ConfigError, UnreadableSecrets, SecretKeyError) as exc:
        return _answer(request, None, 409, "Cannot sign in", f"{pending.job}: {exc}")
    except SourceError as exc:
        message = f"{pending.job}: sign-in failed at {exc.step.value}: {exc.detail}"
        return _answer(request, None, 502, "Sign-in failed", message)
    who = claims.get("preferred_username") or claims.get("email") or "the account"
    return _answer(
        request,
        None,
        200,
        "Signed in",
        f"{pending.job}: signed in as {who}; the tokens are kept, encrypted, in the database.",
    )


def _answer(
    request: Request, user: Principal | None, status: int, title: str, message: str
) -> Response:
    return render(
        request,
        "jobs_sign_in.html",
        user,
        status=status,
        title=title,
        message=message,
        ok=status == 200,
    )
