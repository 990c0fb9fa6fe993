"""The web commands: `deskmail web` (UI and API without jobs) and `deskmail users`."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from deskmail.cli.app import main
from deskmail.cli.common import EXIT_CONFIG, config_option, load, store_of
from deskmail.config.models import DeskmailConfig, WebConfig
from deskmail.entry import imported
from deskmail.store.engine import Store

if TYPE_CHECKING:  # the web package is imported by these commands only, when they run
    from deskmail.daemon.supervisor import Supervisor
    from deskmail.web.server import WebServer

PASSWORD_ENV = "DESKMAIL_PASSWORD"
ROLES = ("admin", "agent", "viewer")


def _start_web(
    config: DeskmailConfig,
    web: WebConfig,
    store: Store,
    wake: Callable[[str], bool] | None,
    runs_jobs: bool,
) -> WebServer:
    from deskmail.web.app import create_app
    from deskmail.web.job_control import JobControl
    from deskmail.web.server import WebServer, WebServerError

    app = create_app(
        config, store, web=web, jobs_control=JobControl(config, store, wake), runs_jobs=runs_jobs
    )
    server = WebServer(app, web)
    try:
        server.start()
    except WebServerError as exc:
        click.echo(f"deskmail: {config.source_file}: web.{exc.key}: {exc.problem}", err=True)
        sys.exit(EXIT_CONFIG)
    click.echo(f"deskmail web: serving the UI and API on {server.url}/")
    return server


def web_alongside(
    config: DeskmailConfig, web: WebConfig, store: Store
) -> Callable[[Supervisor], Callable[[], None]]:
    """For `deskmail serve`: start the web server beside the jobs; returns how to stop it."""

    def start(supervisor: Supervisor) -> Callable[[], None]:
        server = _start_web(config, web, store, supervisor.wake, runs_jobs=True)
        return server.stop

    return start


@main.command("web")
@config_option
@click.option("--listen", help="Address to listen on (default: [web] listen, or 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: [web] port, or 8642).")
def web_command(config_path: Path, listen: str | None, port: int | None) -> None:
    """Serve the web UI and the API without running jobs (e.g. a second front end).

    `deskmail serve` serves them too, beside the jobs, when the configuration
    has a [web] table. SIGTERM or SIGINT stops it.
    """
    imported()
    config = load(config_path)
    web = config.web or WebConfig()
    changes = {key: value for key, value in (("listen", listen), ("port", port)) if value}
    if changes:
        web = WebConfig.model_validate(web.model_dump() | changes)
    store = store_of(config)
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    # Blocked before the server's thread starts (it inherits the mask): they come to sigwait.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    try:
        server = _start_web(config, web, store, None, runs_jobs=False)
        try:
            signal.sigwait(stop_signals)
        finally:
            server.stop()
    finally:
        store.dispose()
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    click.echo("deskmail web: stopped")


@main.group()
def users() -> None:
    """Users of the web UI and API: add, list, remove, set-role, reset-password."""


def _password(password_file: Path | None, confirm: bool) -> str:
    """From --password-file (first line), $DESKMAIL_PASSWORD, or asked on the terminal."""
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").splitlines()[0]
        except (OSError, IndexError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "empty or not UTF-8 text"
            click.echo(f"deskmail: --password-file {password_file}: {reason}", err=True)
            sys.exit(EXIT_CONFIG)
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        click.echo(
            f"deskmail: no password: give --password-file FILE or set {PASSWORD_ENV}"
            " (or run on a terminal to be asked)",
            err=True,
        )
        sys.exit(EXIT_CONFIG)
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return value


password_file_option = click.option(
    "--password-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"Read the password from this file's first line (else ${PASSWORD_ENV}, else asked).",
)


def _fail(message: str) -> None:
    click.echo(f"deskmail: {message}", err=True)
    sys.exit(EXIT_CONFIG)


@users.command("add")
@config_option
@click.argument("name")
@click.option("--admin", "as_admin", is_flag=True, help="Same as --role admin.")
@click.option("--role", type=click.Choice(ROLES), help="admin, agent or viewer (default: agent).")
@password_file_option
def users_add(
    config_path: Path, name: str, as_admin: bool, role: str | None, password_file: Path | None
) -> None:
    """Add a user (the first administrator: `deskmail users add --admin NAME`)."""
    from deskmail.store.accounts import Role
    from deskmail.web.accounts import AccountError, add_user

    if as_admin and role not in (None, "admin"):
        _fail("--admin and --role differ; give one")
    chosen = Role.ADMIN if as_admin else Role(role or "agent")
    store = store_of(load(config_path))
    try:
        add_user(store, name, chosen, _password(password_file, confirm=True))
    except AccountError as exc:
        _fail(str(exc))
    click.echo(f"user {name} added ({chosen.value})")


@users.command("list")
@config_option
def users_list(config_path: Path) -> None:
    """Every user with its role."""
    from deskmail.web.accounts import list_users

    found = list_users(store_of(load(config_path)))
    if not found:
        click.echo("no users yet; add the first with `deskmail users add --admin NAME`")
    for user in found:
        click.echo(f"{user.name:<30} {user.role.value:<7} created {user.created_at:%Y-%m-%d}")


@users.command("remove")
@config_option
@click.argument("name")
def users_remove(config_path: Path, name: str) -> None:
    """Remove a user, with their sessions and tokens."""
    from deskmail.web.accounts import AccountError, find_user, remove_user

    store = store_of(load(config_path))
    try:
        remove_user(store, find_user(store, name).id)
    except AccountError as exc:
        _fail(str(exc))
    click.echo(f"user {name} removed")


@users.command("set-role")
@config_option
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
def users_set_role(config_path: Path, name: str, role: str) -> None:
    """Change a user's role."""
    from deskmail.store.accounts import Role
    from deskmail.web.accounts import AccountError, find_user, set_role

    store = store_of(load(config_path))
    try:
        set_role(store, find_user(store, name).id, Role(role))
    except AccountError as exc:
        _fail(str(exc))
    click.echo(f"user {name} is now {role}")


@users.command("reset-password")
@config_option
@click.argument("name")
@password_file_option
def users_reset_password(config_path: Path, name: str, password_file: Path | None) -> None:
    """Set a new password; the user's sessions end."""
    from deskmail.web.accounts import AccountError, find_user, set_password

    store = store_of(load(config_path))
    try:
        set_password(store, find_user(store, name).id, _password(password_file, confirm=True))
    except AccountError as exc:
        _fail(str(exc))
    click.echo(f"password of {name} changed; their sessions have ended")
