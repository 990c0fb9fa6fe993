"""Row ids in paths: positive integers within the range of the id columns on both databases
(PostgreSQL's INTEGER), so a made-up id is a 404 or a 422, never an overflow."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

MAX_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
