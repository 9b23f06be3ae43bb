"""The hot path's SQL (tasks.work.sql): one text per prepared-statement name, names and status
values taken from the models rather than typed in, and a package that stays below the
quality engine and the service layer."""

import ast
import pathlib
from dataclasses import fields, replace

import pytest

import tasks.work
from tasks import services, work
from tasks.models import (
    Assignment,
    AssignmentStatus,
    Bundle,
    BundleStatus,
    Item,
    ItemState,
    WorkerBundleStats,
)
from tasks.schema import question_validate
from tasks.work import sql as work_sql
from tasks.work.sql import SQL, Prepared, statements_build
from tests.factories import BundleFactory, ItemFactory, WorkerFactory, publish

PACKAGE = pathlib.Path(tasks.work.__file__).parent
MODELS = (Assignment, Item, Bundle, WorkerBundleStats)


def _texts(statements):
    for field in fields(statements):
        value = getattr(statements, field.name)
        yield field.name, value.sql if isinstance(value, Prepared) else value


def test_every_prepared_statement_name_maps_to_exactly_one_text():
    prepared = [v for v in (getattr(SQL, f.name) for f in fields(SQL)) if isinstance(v, Prepared)]
    names = [statement.name for statement in prepared]
    assert len(names) == len(set(names)), names  # no name reused, even for the same text
    assert SQL.prepared() == {statement.name: statement.sql for statement in prepared}
    assert len(set(SQL.prepared().values())) == len(names)  # no text under two names
    assert all(name.startswith("cm_") and name.isidentifier() for name in names)


def test_a_name_given_two_texts_is_refused():
    twice = Prepared(SQL.claim.name, SQL.claim_waiting.sql)
    with pytest.raises(ValueError, match="names two texts"):
        replace(SQL, claim_waiting=twice).prepared()
    # rebuilding gives the very same texts: built once, from nothing that changes per call
    assert statements_build() == SQL


@pytest.mark.django_db
def test_the_hot_path_only_runs_registered_statements(monkeypatch, live_bundle, is_postgres):
    """Claim, submit (both ways), the loop and standing: every statement run as prepared is
    the registered text of its name. The plain types never read the item's payload to judge
    an answer; an annotation type does (`cm_claim_payload`)."""
    seen: dict[str, set[str]] = {}
    real = work_sql.fetch_prepared

    def fetch(name, sql, params):
        seen.setdefault(name, set()).add(sql)
        return real(name, sql, params)

    monkeypatch.setattr(work_sql, "fetch_prepared", fetch)
    bundle = live_bundle
    worker = WorkerFactory()
    work.worker_standing(worker=worker, bundle=bundle)
    task = work.assignment_claim(bundle=bundle, worker=worker)
    step = services.assignment_submit_and_claim_next(
        assignment_id=task.pk, worker=worker, answer="pos", bundle=bundle
    )
    services.assignment_submit(assignment_id=step.next.pk, worker=worker, answer="pos")
    task = work.assignment_claim(bundle=bundle, worker=worker)
    services.assignment_submit(assignment_id=task.pk, worker=worker, answer="pos", bundle=bundle)
    task = work.assignment_claim(bundle=bundle, worker=worker)  # the fourth and last item
    services.assignment_submit(assignment_id=task.pk, worker=worker, answer="pos", bundle=bundle)
    with pytest.raises(work.NoTasksAvailable):  # all four done: the claim asks why, and waits
        work.assignment_claim(bundle=bundle, worker=worker)
    assert "cm_claim_payload" not in seen
    annotated = BundleFactory(
        question=question_validate({"type": "transcription"}), min_overlap=1, max_overlap=1
    )
    ItemFactory(bundle=annotated, payload={"image": "https://example.com/a.png"})
    annotated = publish(annotated)
    task = work.assignment_claim(bundle=annotated, worker=worker)
    services.assignment_submit(
        assignment_id=task.pk, worker=worker, answer="a line", bundle=annotated
    )
    assert "cm_claim_payload" in seen
    registered = SQL.prepared()
    if is_postgres:  # every registered statement ran (SQLite has only the portable ones)
        assert seen.keys() == registered.keys()
    assert seen, "nothing ran as a prepared statement"
    for name, texts in seen.items():
        assert texts == {registered[name]}, name


def test_statements_name_the_models_tables_columns_and_statuses():
    texts = dict(_texts(SQL))
    assert f'"{Assignment._meta.db_table}"' in texts["claim"]
    assert f'"{Item._meta.db_table}"' in texts["take"]
    assert f'"{WorkerBundleStats._meta.db_table}"' in texts["stats_add"]
    assert f'"{Bundle._meta.db_table}"' in texts["submit_read"]
    assert f"'{AssignmentStatus.CLAIMED.value}'" in texts["insert_claim"]
    assert f"'{AssignmentStatus.SUBMITTED.value}'" in texts["submit_write"]
    assert f"'{ItemState.COMPLETE.value}'" in texts["item_judgment"]


def test_statements_follow_a_renamed_table_and_column(monkeypatch):
    for model in MODELS:
        monkeypatch.setattr(model._meta, "db_table", f"renamed_{model._meta.model_name}")
    slots = Item._meta.get_field("slots_open")
    monkeypatch.setattr(slots, "column", "open_slots")
    renamed = statements_build()
    for name, text in _texts(renamed):
        for model in MODELS:
            assert f'"{model._meta.app_label}_{model._meta.model_name}"' not in text, name
        assert '"slots_open"' not in text, name
    texts = dict(_texts(renamed))
    assert '"renamed_assignment"' in texts["claim"] and '"renamed_item"' in texts["claim"]
    assert '"open_slots" = "open_slots" - 1' in texts["take"]
    assert '"renamed_workerbundlestats"' in texts["submit_one"]
    assert '"renamed_bundle"' in texts["submit_read"]
    assert renamed.prepared().keys() == SQL.prepared().keys()


def test_no_table_name_or_status_string_is_typed_into_the_package():
    statuses = {s.value for enum in (AssignmentStatus, ItemState, BundleStatus) for s in enum}
    for path in PACKAGE.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        for model in MODELS:
            assert model._meta.db_table not in source, path.name
        for status in statuses:
            assert f"'{status}'" not in source, (path.name, status)


def test_the_package_imports_neither_quality_nor_the_service_layer_nor_runs_sql_elsewhere():
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):  # function-level imports included
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = "." * node.level + (node.module or "")
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                assert not target.startswith(("tasks.quality", "tasks.services")), path.name
                assert not target.startswith(("..quality", "..services")), path.name
        if path.name != "sql.py":  # prepared statements go through sql.fetch, name with text
            calls = [n for n in ast.walk(tree) if isinstance(n, ast.Name)]
            assert "fetch_prepared" not in {n.id for n in calls}, path.name
