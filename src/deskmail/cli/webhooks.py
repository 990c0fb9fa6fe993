"""`deskmail webhooks ...`: endpoints, the delivery log, send test, redeliver, deliver."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from deskmail.cli.app import main
from deskmail.cli.common import EXIT_CONFIG, EXIT_JOB_FAILED, config_option, load, store_of
from deskmail.config.models import DeskmailConfig

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

    from deskmail.store.engine import Store
    from deskmail.webhooks.attempts import AttemptResult
    from deskmail.webhooks.delivery import Deliverer

_STATUSES = ("pending", "delivered", "failed")


@main.group()
def webhooks() -> None:
    """Post events (ticket created, run failed, ...) to other systems, signed."""


def _keys(config: DeskmailConfig) -> MultiFernet:
    from deskmail.store.sealing import SecretKeyError, key_file_for, sealing_keys

    try:
        return sealing_keys(key_file_for(config.source_file))
    except SecretKeyError as exc:
        click.echo(f"deskmail: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


def _fail(problem: str, code: int = EXIT_CONFIG) -> NoReturn:
    click.echo(f"deskmail: {problem}", err=True)
    sys.exit(code)


@contextmanager
def _deliverer(config: DeskmailConfig, store: Store) -> Iterator[Deliverer]:
    from deskmail.store.sealing import SecretKeyError
    from deskmail.webhooks.delivery import deliverer_for

    try:
        deliverer = deliverer_for(store, config)
    except SecretKeyError as exc:
        _fail(str(exc))
    with deliverer:
        yield deliverer


@webhooks.command("add")
@config_option
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    required=True,
    help="An event kind to post (repeat it), or * for every kind.",
)
@click.option("--description", default="", help="What the endpoint is for.")
@click.option(
    "--include-subject",
    is_flag=True,
    help=(
        "Add the mail's subject and the record's custom fields to the events"
        " (mail text: off by default)."
    ),
)
def webhooks_add(
    config_path: Path, url: str, events: tuple[str, ...], description: str, include_subject: bool
) -> None:
    """Add an endpoint; prints its signing secret, this once."""
    from deskmail.report.webhooks import render_new
    from deskmail.webhooks.endpoints import EndpointError, add_endpoint

    config = load(config_path)
    store = store_of(config)
    keys = _keys(config)
    try:
        with store.transaction() as session:
            new = add_endpoint(
                session,
                keys,
                url,
                [kind for event in events for kind in event.replace(",", " ").split()],
                description=description,
                include_subject=include_subject,
            )
    except EndpointError as exc:
        _fail(f"webhooks add: {exc}")
    click.echo(render_new(new))


@webhooks.command("list")
@config_option
def webhooks_list(config_path: Path) -> None:
    """The endpoints, their events and whether they are failing."""
    from deskmail.report.webhooks import render_endpoints
    from deskmail.webhooks.endpoints import list_endpoints

    store = store_of(load(config_path))
    with store.session() as session:
        click.echo(render_endpoints(list_endpoints(session)))


@webhooks.command("remove")
@config_option
@click.argument("endpoint_id", type=int)
def webhooks_remove(config_path: Path, endpoint_id: int) -> None:
    """Remove an endpoint with its deliveries and their log."""
    from deskmail.webhooks.endpoints import remove_endpoint

    store = store_of(load(config_path))
    with store.transaction() as session:
        removed = remove_endpoint(session, endpoint_id)
    if not removed:
        _fail(f"no webhook endpoint {endpoint_id}", EXIT_JOB_FAILED)
    click.echo(f"webhook endpoint {endpoint_id} removed")


def _set_enabled(config_path: Path, endpoint_id: int, enabled: bool) -> None:
    from deskmail.webhooks.endpoints import set_enabled

    store = store_of(load(config_path))
    with store.transaction() as session:
        endpoint = set_enabled(session, endpoint_id, enabled)
    if endpoint is None:
        _fail(f"no webhook endpoint {endpoint_id}", EXIT_JOB_FAILED)
    click.echo(f"webhook endpoint {endpoint_id} {'enabled' if enabled else 'disabled'}")


@webhooks.command("enable")
@config_option
@click.argument("endpoint_id", type=int)
def webhooks_enable(config_path: Path, endpoint_id: int) -> None:
    """Enable an endpoint (its failure count starts again)."""
    _set_enabled(config_path, endpoint_id, True)


@webhooks.command("disable")
@config_option
@click.argument("endpoint_id", type=int)
def webhooks_disable(config_path: Path, endpoint_id: int) -> None:
    """Disable an endpoint: no event is queued for it until it is enabled."""
    _set_enabled(config_path, endpoint_id, False)


@webhooks.command("test")
@config_option
@click.argument("endpoint_id", type=int)
def webhooks_test(config_path: Path, endpoint_id: int) -> None:
    """Post a webhook.test event to the endpoint now, once; exit 1 if it failed."""
    _post_now(config_path, lambda deliverer: deliverer.send_test(endpoint_id))


@webhooks.command("deliveries")
@config_option
@click.argument("delivery_id", type=int, required=False)
@click.option("--endpoint", "endpoint_id", type=int, help="Only this endpoint's.")
@click.option("--status", type=click.Choice(_STATUSES), help="Only these.")
@click.option("--limit", default=50, show_default=True, help="How many, newest last.")
def webhooks_deliveries(
    config_path: Path,
    delivery_id: int | None,
    endpoint_id: int | None,
    status: str | None,
    limit: int,
) -> None:
    """The delivery log; with DELIVERY_ID, its every attempt: request headers, answer, time."""
    from deskmail.report.webhooks import render_deliveries, render_delivery
    from deskmail.store.models import WebhookDeliveryStatus
    from deskmail.webhooks.log import attempts_of, get_delivery, list_deliveries

    store = store_of(load(config_path))
    with store.session() as session:
        if delivery_id is None:
            chosen = WebhookDeliveryStatus(status) if status else None
            click.echo(render_deliveries(list_deliveries(session, endpoint_id, chosen, limit)))
            return
        delivery = get_delivery(session, delivery_id)
        if delivery is None:
            _fail(f"no webhook delivery {delivery_id}", EXIT_JOB_FAILED)
        click.echo(render_delivery(delivery, attempts_of(session, delivery_id)))


@webhooks.command("redeliver")
@config_option
@click.argument("delivery_id", type=int)
def webhooks_redeliver(config_path: Path, delivery_id: int) -> None:
    """Post a delivery again now, under the same webhook-id; exit 1 if it failed (it is then
    retried on the usual schedule)."""
    _post_now(config_path, lambda deliverer: deliverer.redeliver(delivery_id))


def _post_now(config_path: Path, post: Callable[[Deliverer], AttemptResult]) -> NoReturn:
    """Send test and redeliver: one POST now, said in one line; exit 1 if it failed."""
    from deskmail.report.webhooks import render_attempt
    from deskmail.webhooks.attempts import DeliveryError

    config = load(config_path)
    store = store_of(config)
    try:
        with _deliverer(config, store) as deliverer:
            result = post(deliverer)
    except DeliveryError as exc:
        _fail(str(exc), EXIT_JOB_FAILED)
    click.echo(render_attempt(result))
    sys.exit(0 if result.delivered else EXIT_JOB_FAILED)


@webhooks.command("deliver")
@config_option
def webhooks_deliver(config_path: Path) -> None:
    """Post every webhook that is due (for cron, beside run-once); exit 1 if any failed.

    `deskmail serve` does this by itself, within seconds of each commit.
    """
    from deskmail.report.text import count

    config = load(config_path)
    store = store_of(config)
    with _deliverer(config, store) as deliverer:
        report = deliverer.deliver_due()
    click.echo(
        f"webhooks: {count(report.delivered, 'delivery', 'deliveries')} made,"
        f" {count(report.failed, 'attempt')} failed"
    )
    sys.exit(EXIT_JOB_FAILED if report.failed else 0)
