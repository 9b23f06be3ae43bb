"""Writing validated records: a batch at a time, each batch in a savepoint.

PostgreSQL gets COPY (rows rendered straight into COPY text); other databases `bulk_create`.
A batch the unique constraint refuses is examined again to name the duplicate's row.
"""

from __future__ import annotations

import io
import json
from typing import Protocol

from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import Field, Max, Model
from django.utils import timezone

from tasks.models import Bundle, Item, ItemState

from .errors import InvalidUpload
from .parsing import Record, row_detail


class Sink(Protocol):
    created: int
    gold: int

    def add(self, record: Record) -> None: ...

    def flush(self) -> None: ...


class BaseSink:
    def __init__(self, *, bundle: Bundle, batch_size: int) -> None:
        self.bundle = bundle
        self.batch_size = batch_size
        self.created = 0
        self.gold = 0
        # Items at or below this id existed before the upload (the caller holds the bundle
        # lock, so no other upload adds to this bundle meanwhile): tells "already in the
        # bundle" from "earlier in this file" when a duplicate id is found.
        self.id_boundary: int = Item.objects.aggregate(m=Max("pk"))["m"] or 0
        self.ids: list[str] = []
        self.lines: list[int | None] = []
        self.first_row = 0
        self.batch_gold = 0

    def _write(self) -> None:
        raise NotImplementedError

    def _reset(self) -> None:
        self.created += len(self.ids)
        self.gold += self.batch_gold
        self.batch_gold = 0
        self.ids.clear()
        self.lines.clear()

    def flush(self) -> None:
        if not self.ids:
            return
        try:
            with transaction.atomic():
                self._write()
        except IntegrityError:
            problem = self._duplicate()
            if problem is None:
                raise
            raise problem from None
        except DataError as exc:
            last = self.first_row + len(self.ids) - 1
            reason = str(exc).splitlines()[0] if str(exc) else "a value was refused"
            raise InvalidUpload(
                f"Rows {self.first_row}-{last}: the database refused a value: {reason}.",
                row=self.first_row,
            ) from None
        self._reset()

    def _track(self, record: Record) -> None:
        if not self.ids:
            self.first_row = record.row
        self.ids.append(record.external_id)
        self.lines.append(record.line)
        if record.gold is not None:
            self.batch_gold += 1

    def _duplicate(self) -> InvalidUpload | None:
        """After the unique constraint refused the batch: the first row whose external id is
        repeated in the batch, or already in the bundle (from before or an earlier batch)."""
        wanted = sorted({i for i in self.ids if i})
        known: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            known.update(
                Item.objects.filter(
                    bundle=self.bundle, external_id__in=wanted[start : start + 500]
                ).values_list("external_id", "pk")
            )
        seen: dict[str, int] = {}
        for offset, (external_id, line) in enumerate(zip(self.ids, self.lines, strict=True)):
            if not external_id:
                continue
            row = self.first_row + offset
            if external_id in known:
                where = (
                    "an item already in this bundle"
                    if known[external_id] <= self.id_boundary
                    else "an earlier row of this file"
                )
                reason = f"external_id {external_id!r} is already used by {where}."
            elif external_id in seen:
                reason = f"external_id {external_id!r} repeats row {seen[external_id]}."
            else:
                seen[external_id] = row
                continue
            return InvalidUpload(row_detail(row, line, reason), row=row)
        return None


class CopySink(BaseSink):
    """PostgreSQL: render each row as a line of COPY text and COPY a batch at a time."""

    def __init__(self, *, bundle: Bundle, batch_size: int) -> None:
        super().__init__(bundle=bundle, batch_size=batch_size)
        self.rows: list[str] = []
        columns = (
            "bundle",
            "external_id",
            "payload",
            "gold",
            "is_gold",
            "state",
            "priority",
            "slots_open",
            "judgments_submitted",
            "created_at",
        )
        quote = connection.ops.quote_name
        names = ", ".join(quote(_column(Item, c)) for c in columns)
        self.sql = f"COPY {quote(Item._meta.db_table)} ({names}) FROM STDIN"
        # Every upload's items share one creation time (they arrive together).
        created_at = timezone.now().isoformat()
        self.prefix = f"{bundle.pk}\t"
        self.plain_tail = f"\t\\N\tf\t{ItemState.OPEN}\t0\t{bundle.min_overlap}\t0\t{created_at}\n"
        self.gold_tail = f"\tt\t{ItemState.OPEN}\t0\t0\t0\t{created_at}\n"

    def add(self, record: Record) -> None:
        self._track(record)
        # COPY text format: backslash, tab, newline and CR are the only specials. JSON text
        # never holds raw control characters, so only its backslashes need doubling.
        external_id = record.external_id
        if "\\" in external_id or "\t" in external_id or "\n" in external_id or "\r" in external_id:
            external_id = external_id.translate(_COPY_ESCAPES)
        payload = record.payload_json.replace("\\", "\\\\")
        if record.gold is None:
            self.rows.append(f"{self.prefix}{external_id}\t{payload}{self.plain_tail}")
        else:
            gold = json.dumps(record.gold, ensure_ascii=False).replace("\\", "\\\\")
            self.rows.append(f"{self.prefix}{external_id}\t{payload}\t{gold}{self.gold_tail}")
        if len(self.rows) >= self.batch_size:
            self.flush()

    def _write(self) -> None:
        data = io.BytesIO("".join(self.rows).encode("utf-8"))
        with connection.cursor() as cursor, connection.wrap_database_errors:
            cursor.copy_expert(self.sql, data, 1 << 18)  # positional: Django wraps it

    def _reset(self) -> None:
        super()._reset()
        self.rows.clear()


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class BulkSink(BaseSink):
    """Any other database: `bulk_create` a batch at a time."""

    def __init__(self, *, bundle: Bundle, batch_size: int) -> None:
        super().__init__(bundle=bundle, batch_size=batch_size)
        self.items: list[Item] = []

    def add(self, record: Record) -> None:
        self._track(record)
        is_gold = record.gold is not None
        self.items.append(
            Item(
                bundle_id=self.bundle.pk,
                external_id=record.external_id,
                payload=json.loads(record.payload_json),
                gold=record.gold,
                is_gold=is_gold,
                state=ItemState.OPEN,
                priority=0,
                slots_open=0 if is_gold else self.bundle.min_overlap,
                judgments_submitted=0,
            )
        )
        if len(self.items) >= self.batch_size:
            self.flush()

    def _write(self) -> None:
        Item.objects.bulk_create(self.items)

    def _reset(self) -> None:
        super()._reset()
        self.items.clear()


def sink_for(*, bundle: Bundle, batch_size: int) -> Sink:
    """COPY on PostgreSQL (the production database), `bulk_create` anywhere else."""
    sink_class = CopySink if connection.vendor == "postgresql" else BulkSink
    return sink_class(bundle=bundle, batch_size=max(1, batch_size))


def _column(model: type[Model], name: str) -> str:
    """The database column of a concrete field (a reverse relation has none)."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or not field.column:
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return field.column
