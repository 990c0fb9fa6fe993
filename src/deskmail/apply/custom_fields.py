"""A new ticket's custom field values, written with it (store/models.py TicketField).

The values were checked against their declarations by classify/extraction.py;
what did not fit is not here but in Plan.field_problems, which the ticket
gets as a note (apply/tickets.py) and the log as a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from deskmail.store import deferred
from deskmail.store.models import TicketField

_FIELDS = cast(Table, TicketField.__table__)


def write_custom_fields(session: Session, ticket_id: int, values: Mapping[str, str]) -> None:
    """One row per field, with the batch's other rows (after the ticket, their parent)."""
    for name, value in values.items():
        deferred.insert(session, _FIELDS, {"ticket_id": ticket_id, "name": name, "value": value})


def stored_custom_fields(session: Session, ticket_id: int) -> dict[str, str]:
    """A ticket's custom field values (an ORM query: a batch's waiting rows are written
    first, so a ticket made earlier in the batch has its values)."""
    query = select(TicketField.name, TicketField.value).where(TicketField.ticket_id == ticket_id)
    return {name: value for name, value in session.execute(query)}
