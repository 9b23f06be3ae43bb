"""The hot path's SQL, built once at import from the models' metadata.

Table and column names come from `Model._meta` (`db_table`, each field's `column`) and status
values from the `TextChoices` enums, so a renamed table or status cannot leave a stale name in
a statement. Where PostgreSQL and SQLite agree, one fragment serves both; PostgreSQL adds only
what it alone has (row locks, the one-statement CTEs, typed parameters for PREPARE).

Statements run through `fetch` are `Prepared`: on PostgreSQL a name is PREPAREd once per
connection and from then on stands for its text, so a name must never name two texts
(`Statements.prepared` refuses that; tests/tasks/test_work_sql.py checks it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model

from marketplace.db import fetch_prepared
from tasks.models import (
    Assignment,
    AssignmentStatus,
    Bundle,
    Item,
    ItemState,
    WorkerBundleStats,
)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class _Table:
    """A model's names for `str.format`: `{item}` is its quoted table, `{item.state}` the
    quoted column of a field (by name or attname); an unknown field fails the build."""

    def __init__(self, model: type[Model]) -> None:
        self._model = model

    def __str__(self) -> str:
        return _quote(self._model._meta.db_table)

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            column = getattr(self._model._meta.get_field(name), "column", None)
        except FieldDoesNotExist as exc:
            raise AttributeError(name) from exc
        if not column:
            raise AttributeError(name)
        return _quote(column)


def _names() -> dict[str, Any]:
    """What the templates below may name: tables (with their columns) and status literals."""
    return {
        "assignment": _Table(Assignment),
        "item": _Table(Item),
        "bundle": _Table(Bundle),
        "stats": _Table(WorkerBundleStats),
        "claimed": _literal(AssignmentStatus.CLAIMED.value),
        "submitted": _literal(AssignmentStatus.SUBMITTED.value),
        "open": _literal(ItemState.OPEN.value),
        "full": _literal(ItemState.FULL.value),
        "complete": _literal(ItemState.COMPLETE.value),
    }


# Parameters whose type PostgreSQL's PREPARE cannot infer carry a cast there; SQLite takes
# them plain. A fragment shared by both names them `{p_...}`.
_PG_PARAMS = {
    "p_answer": "%(answer)s::jsonb",
    "p_now": "%(now)s::timestamptz",
    "p_gold_correct": "%(gold_correct)s::boolean",
    "p_gold_score": "%(gold_score)s::float8",
    "p_is_gold": "%(is_gold)s::boolean",
    "p_complete_at": "%(complete_at)s::int",
    "p_gold_seen": "%(gold_seen)s::int",
    "p_gold_right": "%(gold_right)s::int",
}
_SQLITE_PARAMS = {key: value.partition("::")[0] for key, value in _PG_PARAMS.items()}

# ---------------------------------------------------------------------------------------------
# Fragments, one per operation

# Not yet worked on by this worker (the unique (item, worker) constraint backs it up).
_UNSEEN = """NOT EXISTS (SELECT 1 FROM {assignment} a
                                   WHERE a.{assignment.item} = i.{item.id}
                                     AND a.{assignment.worker} = {worker})"""

# Take one judgment slot of the first open item (in serving order, from the partial index
# `item_claim_open`) the worker has not seen. `slots_open` is decremented in the same UPDATE,
# so no item is ever handed out beyond what it needs.
_TAKE = """
        UPDATE {item}
           SET {item.slots_open} = {item.slots_open} - 1,
               {item.state} = CASE WHEN {item.slots_open} = 1 THEN {full} ELSE {open} END
         WHERE {item.id} = (
               SELECT i.{item.id} FROM {item} i
                WHERE {gate}i.{item.bundle} = %(bundle)s AND i.{item.state} = {open}
                  AND i.{item.is_gold} = false AND i.{item.slots_open} > 0
                  AND {unseen}{standing}
                ORDER BY i.{item.priority}, i.{item.id}
                LIMIT 1{lock})
           AND {item.slots_open} > 0
        RETURNING {item.id}, {item.payload}"""

# PostgreSQL's claim decides the worker's standing inside the statement: not blocked (nor
# paused by a quality rule) here,
# and (for a draw between the normal and the warm-up gold rate) past gold warm-up.
_TAKE_STANDING = """
                  AND coalesce((SELECT NOT (s.{stats.blocked} OR s.{stats.paused})
                                       AND s.{stats.submitted} >= %(min_submitted)s::int
                                  FROM {stats} s
                                 WHERE s.{stats.worker} = %(worker)s
                                   AND s.{stats.bundle} = %(bundle)s),
                               %(min_submitted)s::int = 0)"""

_CLAIM_COLUMNS = """({assignment.bundle}, {assignment.item}, {assignment.worker},
            {assignment.status}, {assignment.is_gold}, {assignment.claimed_at},
            {assignment.deadline}, {assignment.auto_approved}, {assignment.reject_reason})"""
_CLAIM_ROW = (
    "%(bundle)s, {claim_item}, %(worker)s, {claimed}, {claim_is_gold}, %(now)s, %(deadline)s,"
    " false, ''"
)

# Blocked, the reason the worker reads (a block's, else a pause's), submitted, paused.
_STANDING_COLUMNS = """s.{stats.blocked},
           CASE WHEN s.{stats.blocked} THEN s.{stats.blocked_reason}
                ELSE s.{stats.paused_reason} END,
           s.{stats.submitted}, s.{stats.paused}"""

# A submission: the assignment becomes submitted only if it is this worker's live claim in
# this bundle, of the kind (gold or not) the caller scored it as.
_SUBMIT_SET = """{assignment.status} = {submitted}, {assignment.answer} = {p_answer},
               {assignment.submitted_at} = {p_now},
               {assignment.seconds_spent} = {seconds},
               {assignment.gold_correct} = {p_gold_correct},
               {assignment.gold_score} = {p_gold_score}"""
_SUBMIT_WHERE = """{assignment.id} = %(assignment)s AND {assignment.worker} = %(worker)s
           AND {assignment.bundle} = %(bundle)s AND {assignment.status} = {claimed}
           AND {assignment.deadline} > {p_now} AND {assignment.is_gold} = {p_is_gold}"""

# The item's judgment: it completes (and closes its slots) when it has what it needs.
_JUDGMENT_SET = """{item.judgments_submitted} = {item.judgments_submitted} + 1,
               {item.state} = CASE WHEN {item.judgments_submitted} + 1 >= {p_complete_at}
                                   THEN {complete} ELSE {item.state} END,
               {item.slots_open} = CASE WHEN {item.judgments_submitted} + 1 >= {p_complete_at}
                                        THEN 0 ELSE {item.slots_open} END"""

# The worker's counters, one atomic upsert (no read-modify-write).
_STATS_COLUMNS = """({stats.worker}, {stats.bundle}, {stats.submitted}, {stats.approved},
                {stats.rejected}, {stats.gold_seen}, {stats.gold_correct}, {stats.blocked},
                {stats.blocked_reason})"""
_STATS_ROW = "%(worker)s, %(bundle)s, 1, 0, 0, {p_gold_seen}, {p_gold_right}, false, ''"
_STATS_CONFLICT = """
        ON CONFLICT ({stats.worker}, {stats.bundle}) DO UPDATE SET
               {stats.submitted} = {stats}.{stats.submitted} + excluded.{stats.submitted},
               {stats.gold_seen} = {stats}.{stats.gold_seen} + excluded.{stats.gold_seen},
               {stats.gold_correct} =
                   {stats}.{stats.gold_correct} + excluded.{stats.gold_correct}"""

# ---------------------------------------------------------------------------------------------
# Statements

# Standing in a bundle (block, gold warm-up count) and the live claim held there.
_STANDING = """
    SELECT {standing_columns},
           (SELECT a.{assignment.id} FROM {assignment} a
             WHERE a.{assignment.worker} = %s AND a.{assignment.status} = {claimed}
               AND a.{assignment.bundle} = %s AND a.{assignment.deadline} > %s
             ORDER BY a.{assignment.id} LIMIT 1)
      FROM (SELECT 1 AS one) AS x
      LEFT JOIN {stats} s ON s.{stats.worker} = %s AND s.{stats.bundle} = %s"""
_CLAIM_STATS = """
    SELECT {standing_columns} FROM {stats} s
     WHERE s.{stats.worker} = %s AND s.{stats.bundle} = %s"""

# PostgreSQL: the whole claim in one statement, the new assignment made from what was taken.
_INSERT_FROM_TAKEN = """INSERT INTO {assignment} {claim_columns}
    SELECT {claim_row} FROM taken"""
_CLAIM = """
    WITH taken AS ({take})
    {insert_from_taken}
    RETURNING {assignment.id}, {assignment.item}, (SELECT {item.payload} FROM taken)"""
_INSERT_CLAIM = """
    INSERT INTO {assignment} {claim_columns}
    VALUES ({claim_row})
    RETURNING {assignment.id}"""

# Gold is never used up, so nothing is locked; the order is shuffled per worker so workers
# cannot compare notes on "the first gold".
_PICK_GOLD = """
        SELECT i.{item.id}, i.{item.payload} FROM {item} i
         WHERE i.{item.bundle} = %(bundle)s AND i.{item.state} = {open}
           AND i.{item.is_gold} = true AND {unseen}
         ORDER BY (i.{item.id} * 2654435761 + %(worker)s * 40503) %% 1000003, i.{item.id}
         LIMIT 1"""

# Training: the bundle's training items (gold) the worker has not done yet, in upload order.
_PICK_TRAINING = """
        SELECT i.{item.id}, i.{item.payload} FROM {item} i
         WHERE i.{item.bundle} = %(bundle)s AND i.{item.state} = {open}
           AND i.{item.is_gold} = true AND i.{item.is_training} = true AND {unseen}
         ORDER BY i.{item.id}
         LIMIT 1"""

_SUBMIT_READ = """
    SELECT a.{assignment.status}, a.{assignment.deadline}, a.{assignment.claimed_at},
           a.{assignment.is_gold}, a.{assignment.item}, a.{assignment.bundle}, i.{item.gold},
           b.{bundle.question}, b.{bundle.min_overlap}, b.{bundle.max_overlap},
           b.{bundle.min_gold_accuracy}, b.{bundle.min_seconds_per_task}
      FROM {assignment} a
      JOIN {item} i ON i.{item.id} = a.{assignment.item}
      JOIN {bundle} b ON b.{bundle.id} = a.{assignment.bundle}
     WHERE a.{assignment.id} = %s AND a.{assignment.worker} = %s"""

# The item payload of a worker's assignment: what an annotation answer is judged against (the
# image's size, the text of spans). The plain types never need it, so never read it.
_CLAIM_PAYLOAD = """
    SELECT i.{item.payload}
      FROM {assignment} a
      JOIN {item} i ON i.{item.id} = a.{assignment.item}
     WHERE a.{assignment.id} = %s AND a.{assignment.worker} = %s"""

# PostgreSQL: a submission's three writes as one statement (atomic by itself). The item and
# the stats change only if the assignment did.
_PG_SECONDS = "EXTRACT(EPOCH FROM (%(now)s::timestamptz - {assignment.claimed_at}))::float8"
_SUBMIT_CTES = """done AS (
        UPDATE {assignment}
           SET {submit_set}
         WHERE {submit_where}
        RETURNING {assignment.item}, {assignment.claimed_at}, {assignment.deadline},
                  {assignment.seconds_spent}),
    judged AS (
        UPDATE {item} i
           SET {judgment_set}
          FROM done
         WHERE i.{item.id} = done.{assignment.item} AND NOT %(is_gold)s::boolean
        RETURNING i.{item.id}),
    counted AS (
        INSERT INTO {stats} {stats_columns}
        SELECT {stats_row}
          FROM done{stats_conflict}
        RETURNING {stats.id})"""
_SUBMIT_ONE = """
    WITH {submit_ctes}
    SELECT {assignment.item}, {assignment.claimed_at}, {assignment.deadline},
           {assignment.seconds_spent}
      FROM done"""
# PostgreSQL: a worker's loop, answer and next task, as one statement. The next item is
# looked for only once the answer is recorded and its item counted (the take's gate reads
# `judged`, which reads `done`): the worker's one live claim has become a submission by the
# time the new one is inserted, and the only row lock this statement can wait for (the
# answered item) is taken before it holds any other item, so two such statements never wait
# on each other.
_LOOP_GATE = "EXISTS (SELECT 1 FROM judged) AND "
_SUBMIT_AND_CLAIM = """
    WITH {submit_ctes},
    taken AS ({take}),
    inserted AS (
    {insert_from_taken}
    RETURNING {assignment.id}, {assignment.item})
    SELECT d.{assignment.item}, d.{assignment.claimed_at}, d.{assignment.deadline},
           d.{assignment.seconds_spent}, ins.{assignment.id}, ins.{assignment.item},
           (SELECT {item.payload} FROM taken)
      FROM done d LEFT JOIN inserted ins ON true"""

# SQLite: the same three writes, one statement each, in a transaction BEGIN IMMEDIATE
# serialises.
_SUBMIT_WRITE = """
    UPDATE {assignment}
       SET {submit_set}
     WHERE {submit_where}"""
_ITEM_JUDGMENT = """
    UPDATE {item}
       SET {judgment_set}
     WHERE {item.id} = %(item)s"""
_STATS_ADD = """
    INSERT INTO {stats} {stats_columns}
    VALUES ({stats_row}){stats_conflict}"""

# NO KEY UPDATE, the strength the UPDATE of the item takes anyway: it excludes every other claim
# and decision of the item, yet never conflicts with the KEY SHARE lock a foreign-key check
# takes on the item (its result's insert, which Django's deferred constraints check at the
# writer's COMMIT). A plain FOR UPDATE here made the whole-bundle re-estimate, checking the
# results it inserted, wait for a claim that itself waited for the re-estimate's stats row.
_SKIP_LOCKED = " FOR NO KEY UPDATE SKIP LOCKED"
# SKIP LOCKED passes over items other claims hold locked at this instant, so near the end of
# a bundle it can find nothing while a slot is about to be left open. Before saying "no
# tasks", a claim waits for them once.
_WAIT_LOCKED = " FOR NO KEY UPDATE"


class Prepared(NamedTuple):
    """A statement run through `fetch_prepared`: on PostgreSQL `name` is PREPAREd once per
    connection and then stands for `sql`."""

    name: str
    sql: str


@dataclass(frozen=True)
class Statements:
    """Every statement of the hot path. The `Prepared` ones run on both databases unless
    noted; the plain texts run through a cursor."""

    standing: Prepared  # standing in a bundle and the claim held there
    claim: Prepared  # PostgreSQL: the whole claim
    claim_waiting: Prepared  # PostgreSQL: the same, waiting for locked items
    claim_stats: Prepared  # PostgreSQL: why a claim took nothing
    submit_read: Prepared  # the long way's read of an assignment and its rules
    claim_payload: Prepared  # the payload an annotation answer is judged against
    submit_one: Prepared  # PostgreSQL: the whole submission
    submit_and_claim: Prepared  # PostgreSQL: a submission and the next claim
    take: str  # SQLite: take a slot
    pick_gold: str  # a gold item the worker has not seen
    pick_training: str  # a training item the worker has not done
    insert_claim: str  # a new claim's row
    submit_write: str  # SQLite: the assignment's part of a submission
    item_judgment: str  # SQLite: the item's part
    stats_add: str  # SQLite: the counters' part

    def prepared(self) -> dict[str, str]:
        """Every prepared statement's name and text; a name given two texts is an error."""
        texts: dict[str, str] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, Prepared) and texts.setdefault(value.name, value.sql) != value.sql:
                raise ValueError(f"prepared statement {value.name} names two texts")
        return texts


def statements_build() -> Statements:
    """Render every statement from the models' metadata (once, at import)."""
    names = _names()

    def render(template: str, **parts: str) -> str:
        return template.format(**names, **parts)

    pg, lite = _PG_PARAMS, _SQLITE_PARAMS
    unseen = render(_UNSEEN, worker="%(worker)s")
    pg_standing = render(_TAKE_STANDING)

    def take(*, gate: str = "", standing: str = "", lock: str = "") -> str:
        return render(_TAKE, gate=gate, unseen=unseen, standing=standing, lock=lock)

    claim_columns = render(_CLAIM_COLUMNS)
    taken_row = render(_CLAIM_ROW, claim_item=f"taken.{names['item'].id}", claim_is_gold="false")
    insert_from_taken = render(_INSERT_FROM_TAKEN, claim_columns=claim_columns, claim_row=taken_row)

    def claim(lock: str) -> str:
        taking = take(standing=pg_standing, lock=lock)
        return render(_CLAIM, take=taking, insert_from_taken=insert_from_taken)

    stats = {"stats_columns": render(_STATS_COLUMNS), "stats_conflict": render(_STATS_CONFLICT)}
    submit_ctes = render(
        _SUBMIT_CTES,
        submit_set=render(_SUBMIT_SET, seconds=render(_PG_SECONDS), **pg),
        submit_where=render(_SUBMIT_WHERE, **pg),
        judgment_set=render(_JUDGMENT_SET, **pg),
        stats_row=render(_STATS_ROW, **pg),
        **stats,
    )
    loop_take = take(gate=_LOOP_GATE, standing=pg_standing, lock=_SKIP_LOCKED)
    standing_columns = render(_STANDING_COLUMNS)
    new_row = render(_CLAIM_ROW, claim_item="%(item)s", claim_is_gold="%(is_gold)s")
    return Statements(
        standing=Prepared("cm_standing", render(_STANDING, standing_columns=standing_columns)),
        claim=Prepared("cm_claim", claim(_SKIP_LOCKED)),
        claim_waiting=Prepared("cm_claim_waiting", claim(_WAIT_LOCKED)),
        claim_stats=Prepared(
            "cm_claim_stats", render(_CLAIM_STATS, standing_columns=standing_columns)
        ),
        submit_read=Prepared("cm_submit_read", render(_SUBMIT_READ)),
        claim_payload=Prepared("cm_claim_payload", render(_CLAIM_PAYLOAD)),
        submit_one=Prepared("cm_submit_one", render(_SUBMIT_ONE, submit_ctes=submit_ctes)),
        submit_and_claim=Prepared(
            "cm_submit_and_claim",
            render(
                _SUBMIT_AND_CLAIM,
                submit_ctes=submit_ctes,
                take=loop_take,
                insert_from_taken=insert_from_taken,
            ),
        ),
        take=take(),
        pick_gold=render(_PICK_GOLD, unseen=unseen),
        pick_training=render(_PICK_TRAINING, unseen=unseen),
        insert_claim=render(_INSERT_CLAIM, claim_columns=claim_columns, claim_row=new_row),
        submit_write=render(
            _SUBMIT_WRITE,
            submit_set=render(_SUBMIT_SET, seconds="%(seconds)s", **lite),
            submit_where=render(_SUBMIT_WHERE, **lite),
        ),
        item_judgment=render(_ITEM_JUDGMENT, judgment_set=render(_JUDGMENT_SET, **lite)),
        stats_add=render(_STATS_ADD, stats_row=render(_STATS_ROW, **lite), **stats),
    )


SQL = statements_build()
SQL.prepared()  # a name given two texts fails here, at import


def fetch(statement: Prepared, params: Sequence[Any] | Mapping[str, Any]) -> tuple[Any, ...] | None:
    """Run a prepared statement of the hot path: its first row, or None. (The one place here
    that calls `fetch_prepared`, so a statement's name always travels with its text.)"""
    return fetch_prepared(statement.name, statement.sql, params)
