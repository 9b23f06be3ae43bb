"""The few tools of the hot path (claim and submit).

On PostgreSQL, planning a short statement can cost as much as running it; a statement
prepared once per connection (connections are persistent) skips that. Elsewhere this is a
plain execute. Only constant SQL is ever prepared: the name identifies the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Model
from django.db.models.base import ModelState

M = TypeVar("M", bound=Model)

_PREPARED: WeakKeyDictionary[Any, set[str]] = WeakKeyDictionary()
_PLACEHOLDER = re.compile(r"%s")
_NAMED_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_NAMES: dict[str, list[str]] = {}  # statement name -> its named parameters, in $n order


def _execute_prepared(
    cursor: Any, name: str, sql: str, params: Sequence[Any] | Mapping[str, Any]
) -> None:
    """Execute `sql` as the prepared statement `name`. Placeholders are either all `%s`
    (params a sequence) or all `%(key)s` (params a mapping; a key may appear many times)."""
    if connection.vendor != "postgresql":
        cursor.execute(sql, params)
        return
    raw = connection.connection  # the psycopg2 connection this cursor runs on
    prepared = _PREPARED.setdefault(raw, set())
    if name not in prepared:
        cursor.execute(f"PREPARE {name} AS {_numbered(name, sql, params)}")
        prepared.add(name)
    if isinstance(params, Mapping):
        params = [params[key] for key in _NAMES[name]]
    placeholders = ", ".join(["%s"] * len(params))
    cursor.execute(f"EXECUTE {name} ({placeholders})" if params else f"EXECUTE {name}", params)


_EXECUTE: dict[str, str] = {}  # statement name -> its EXECUTE text


def fetch_prepared(
    name: str, sql: str, params: Sequence[Any] | Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """Run `sql` as the prepared statement `name` and return its first row (None if none).

    On PostgreSQL this talks to the driver's cursor directly: Django's cursor wrapper costs
    tens of microseconds of bookkeeping per call, which the claim hot path pays thousands of
    times a second. Errors still come out as django.db's (IntegrityError and so on), and a
    failed connection is still noticed, through the connection's own error wrapper. When
    queries are being logged (DEBUG, or a test capturing them) the Django cursor is used, so
    these statements show up like any other."""
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor != "postgresql" or conn.queries_logged:
        with conn.cursor() as cursor:
            _execute_prepared(cursor, name, sql, params)
            return cursor.fetchone()
    conn.close_if_health_check_failed()
    conn.ensure_connection()
    raw = conn.connection
    prepared = _PREPARED.get(raw)
    if prepared is None:
        prepared = _PREPARED[raw] = set()
    with conn.wrap_database_errors, raw.cursor() as cursor:
        if name not in prepared:
            cursor.execute(f"PREPARE {name} AS {_numbered(name, sql, params)}")
            prepared.add(name)
        if isinstance(params, Mapping):
            params = [params[key] for key in _NAMES[name]]
        execute = _EXECUTE.get(name)
        if execute is None:
            placeholders = ", ".join(["%s"] * len(params))
            execute = _EXECUTE[name] = (
                f"EXECUTE {name} ({placeholders})" if params else f"EXECUTE {name}"
            )
        cursor.execute(execute, params)
        return cursor.fetchone()


def _numbered(name: str, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> str:
    """The statement with $1, $2, ... placeholders (no params: % is not interpolated)."""
    sql = sql.replace("%%", "%")
    if isinstance(params, Mapping):
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match[1] not in names:
                names.append(match[1])
            return f"${names.index(match[1]) + 1}"

        numbered = _NAMED_PLACEHOLDER.sub(number, sql)
        _NAMES[name] = names
        return numbered
    counter = iter(range(1, len(params) + 1))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


# model -> (the defaults that are constants, the fields whose default is made per instance)
_DEFAULTS: dict[type, tuple[dict[str, Any], list[Any]]] = {}


def loaded_instance(model: type[M], related: Mapping[str, Any] | None = None, **values: Any) -> M:
    """A model instance as if read from the database, from values the caller already has.

    Model.__init__ runs descriptors and signals for every field, about 100 µs for an
    assignment; the claim and submit hot paths build their results this way instead.
    `values` are keyed by attname (`item_id`, not `item`); fields not given take their
    defaults. `related` fills the related-object cache (`{"item": item}`), so reading
    `instance.item` costs no query.
    """
    defaults = _DEFAULTS.get(model)
    if defaults is None:
        fields = model._meta.concrete_fields
        made = [f for f in fields if f.has_default() and callable(f.default)]
        defaults = _DEFAULTS[model] = (
            {f.attname: f.get_default() for f in fields if f not in made},
            made,
        )
    constants, made = defaults
    instance = model.__new__(model)
    attributes = instance.__dict__
    attributes.update(constants)
    for field in made:  # a fresh value each time, e.g. dict or timezone.now
        if field.attname not in values:
            attributes[field.attname] = field.get_default()
    attributes.update(values)
    state = ModelState()
    state.adding = False
    state.db = DEFAULT_DB_ALIAS
    instance._state = state
    if related:
        state.fields_cache.update(related)
    return instance


@contextmanager
def statement_savepoint() -> Iterator[None]:
    """Around one statement that may fail by design (a unique violation the caller handles).

    In autocommit the statement is its own transaction and a failure costs nothing more; inside
    a caller's transaction a savepoint keeps that transaction usable. The savepoint's two extra
    round trips are paid only there."""
    if connection.in_atomic_block:
        with transaction.atomic():
            yield
    else:
        yield
