"""A new ticket's custom field values, written with it (store/models.py TicketField).

The values were checked against their declarations by classify/extraction.py;
what did not fit is not here but in Plan.field_problems, which the ticket
gets as a note (apply/tickets.py) and the log as a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from deskmail.store import deferred
from deskmail.store.models import TicketField

_FIELDS = cast(Table, TicketField.__table__)


def write_custom_fields(session: Session, ticket_id: int, values: Mapping[str, str]) -> None:
    """One row per field, with the batch's other rows (after the ticket, their parent)."""
    for name, value in values.items():
        deferred.insert(session, _FIELDS, {"ticket_id": ticket_id, "name": name, "value": value})
