"""Server-side prepared statements for the few hottest queries (claim and submit).

On PostgreSQL, planning a short statement can cost as much as running it; a statement
prepared once per connection (connections are persistent) skips that. Elsewhere this is a
plain execute. Only constant SQL is ever prepared: the name identifies the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from weakref import WeakKeyDictionary

from django.db import connection

_PREPARED: WeakKeyDictionary[Any, set[str]] = WeakKeyDictionary()
_PLACEHOLDER = re.compile(r"%s")


def execute_prepared(cursor: Any, name: str, sql: str, params: Sequence[Any]) -> None:
    """Execute `sql` (with %s placeholders) as the prepared statement `name`."""
    if connection.vendor != "postgresql":
        cursor.execute(sql, params)
        return
    raw = connection.connection  # the psycopg2 connection this cursor runs on
    prepared = _PREPARED.setdefault(raw, set())
    if name not in prepared:
        counter = iter(range(1, len(params) + 1))
        numbered = _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql.replace("%%", "%"))
        cursor.execute(f"PREPARE {name} AS {numbered}")  # no params: % is not interpolated
        prepared.add(name)
    placeholders = ", ".join(["%s"] * len(params))
    cursor.execute(f"EXECUTE {name} ({placeholders})" if params else f"EXECUTE {name}", params)
