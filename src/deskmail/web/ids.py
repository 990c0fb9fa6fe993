"""Row ids in paths and bodies: positive integers within the range of the id columns on
both databases (PostgreSQL's INTEGER), so a made-up id is a 404, or a 422 naming the
field, never an overflow in the database."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import Field

MAX_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
BodyRowId = Annotated[int, Field(ge=1, le=MAX_ID)]
