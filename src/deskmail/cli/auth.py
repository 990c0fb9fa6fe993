"""deskmail auth: sign a job in with OAuth2, and see who is signed in until when."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from deskmail.cli.app import main
from deskmail.cli.common import (
    EXIT_CONFIG,
    EXIT_JOB_FAILED,
    config_option,
    jobs_of,
    load,
    store_of,
    with_stored_jobs,
)
from deskmail.config.errors import ConfigError


@main.group()
def auth() -> None:
    """OAuth2 sign-in of jobs (Microsoft 365, Google, other issuers)."""


@auth.command("login")
@config_option
@click.option("--job", "job_name", required=True, help="The job to sign in.")
@click.option("--smtp", is_flag=True, help="Sign in the job's outgoing mail ([smtp].oauth2).")
def auth_login(config_path: Path, job_name: str, smtp: bool) -> None:
    """Sign a delegated job in: prints a URL (and a code), waits, keeps the tokens encrypted.

    Microsoft: the device code, entered in any browser. Google: the loopback redirect
    with PKCE, from a browser on this machine or through an SSH tunnel. Another issuer:
    the device code where its metadata offers one, else the loopback redirect.

    Every other setting of the job stays as it is.
    """
    from deskmail.auth.tokens import job_tokens, smtp_tokens
    from deskmail.config.oauth2 import OAuth2Flow
    from deskmail.outbound.outbox import smtp_settings
    from deskmail.sources.errors import SourceError

    config = with_stored_jobs(load(config_path), job_name=job_name)
    (job,) = jobs_of(config, job_name)
    settings = smtp_settings(config, job) if smtp else None
    oauth2 = settings.oauth2 if settings is not None else None if smtp else job.oauth2
    if oauth2 is None:
        what = "its outgoing mail" if smtp else "it"
        click.echo(f'deskmail: job "{job.name}": {what} signs in without OAuth2', err=True)
        sys.exit(EXIT_CONFIG)
    if oauth2.flow is not OAuth2Flow.DELEGATED:
        click.echo(
            f'job "{job.name}" signs in as an application (flow = "app"): nobody needs to sign'
            " in; each run asks for its token (deskmail check tries it)"
        )
        return
    try:
        store = store_of(config)
        tokens = smtp_tokens(config, job, store) if smtp else job_tokens(job, store)
        assert tokens is not None
        claims = tokens.sign_in.interactive_sign_in(click.echo)  # type: ignore[attr-defined]
    except ConfigError as exc:
        click.echo(f"deskmail: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except SourceError as exc:
        click.echo(f"{job.name}: sign-in FAILED at {exc.step.value}: {exc.detail}", err=True)
        sys.exit(EXIT_JOB_FAILED)
    who = claims.get("preferred_username") or claims.get("email") or "the account"
    click.echo(f"{job.name}: signed in as {who}; the tokens are kept, encrypted, in the database")


@auth.command("status")
@config_option
@click.option("--job", "job_name", help="Only this job (default: every OAuth2 job).")
def auth_status(config_path: Path, job_name: str | None) -> None:
    """Who is signed in, the scopes, and when the tokens and the client credential expire."""
    from deskmail.auth.status import sign_in_status, status_lines
    from deskmail.auth.tokens import job_tokens
    from deskmail.sources.errors import SourceError
    from deskmail.store.models import utcnow

    config = with_stored_jobs(load(config_path), job_name=job_name)
    jobs = [job for job in jobs_of(config, job_name) if job.oauth2 is not None]
    if not jobs:
        click.echo("no job signs in with OAuth2")
        return
    store = store_of(config)
    now = utcnow()
    for job in jobs:
        try:
            tokens = job_tokens(job, store)
        except (ConfigError, SourceError) as exc:
            click.echo(f"{job.name}: {exc}")
            continue
        assert tokens is not None
        for line in status_lines(sign_in_status(job, tokens), now):
            click.echo(line)
