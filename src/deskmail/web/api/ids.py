"""Row ids in paths and bodies: bounded to the database's integer, so an id too large
for a column is a 422 naming the field, never a database error."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import Field

MAX_ROW_ID = 2**31 - 1  # PostgreSQL's integer

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
BodyRowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
