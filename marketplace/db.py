"""Server-side prepared statements for the few hottest queries (claim and submit).

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

from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models import Model
from django.db.models.base import ModelState

M = TypeVar("M", bound=Model)

_PREPARED: WeakKeyDictionary[Any, set[str]] = WeakKeyDictionary()
_PLACEHOLDER = re.compile(r"%s")
_NAMED_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_NAMES: dict[str, list[str]] = {}  # statement name -> its named parameters, in $n order


def execute_prepared(
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


_DEFAULTS: dict[type, list[tuple[str, Any, Any]]] = {}  # model -> (attname, field, default)


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
        defaults = _DEFAULTS[model] = [
            (field.attname, field, None if callable(field.default) else field.get_default())
            for field in model._meta.concrete_fields
        ]
    instance = model.__new__(model)
    state = ModelState()
    state.adding = False
    state.db = DEFAULT_DB_ALIAS
    instance._state = state
    fields = instance.__dict__
    for attname, field, default in defaults:
        if attname in values:
            fields[attname] = values[attname]
        elif callable(field.default):  # a fresh value each time, e.g. dict or timezone.now
            fields[attname] = field.get_default()
        else:
            fields[attname] = default
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
