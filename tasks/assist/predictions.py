"""Predictions posted by the requester's own model: JSONL lines
`{"external_id" | "item_id", "label", "confidence"}` (DESIGN.md), or Label Studio tasks with
pre-annotations (`{"data": {...}, "predictions": [{"result": [...], "score": 0.8}]}`).

One upload is one model version (the bundle's next), stored per item; the newest version of
an item's predictions is what the stopping rule uses. Labels are checked against the question
like a worker's answer, so a prediction can never be a label no worker could give.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Max

from marketplace.errors import DomainError, Forbidden
from tasks.exports.labelstudio import labelstudio_answer
from tasks.models import AssistModelVersion, Bundle, BundleStatus, Item, Prediction
from tasks.schema import InvalidAnswer, answer_validate

#: Lines per upload; a larger model run posts several uploads (each a version).
MAX_LINES = 200_000


class InvalidPredictions(DomainError):
    code = "invalid_predictions"
    http_status = 400


def predictions_post(*, bundle: Bundle, by: Any, lines: Iterable[str | bytes]) -> int:
    """Store one upload of predictions as the bundle's next model version and return how many
    were accepted. All or nothing: a bad line rejects the upload naming its line number.
    On a live bundle the open items are decided again once the upload commits."""
    if bundle.requester_id != getattr(by, "pk", None):
        raise Forbidden("Only the bundle's requester posts predictions.", code="forbidden")
    if bundle.assist is None:
        raise DomainError(
            "This bundle has no assist object; set one to use predictions.",
            code="assist_off",
            http_status=409,
        )
    records = list(_records(lines))
    if len(records) > MAX_LINES:
        raise InvalidPredictions(f"At most {MAX_LINES} predictions per upload.")
    with transaction.atomic():
        Bundle.objects.select_for_update().filter(pk=bundle.pk).first()
        ids = _item_ids(bundle, records)
        payloads = dict(Item.objects.filter(pk__in=set(ids.values())).values_list("id", "payload"))
        latest = AssistModelVersion.objects.filter(bundle=bundle).aggregate(v=Max("version"))["v"]
        version = (latest or 0) + 1
        rows = []
        for line, rec in records:
            item_id = ids[line]
            label, confidence = _label(bundle.question, rec, payloads.get(item_id), line)
            rows.append(
                Prediction(
                    bundle_id=bundle.pk,
                    item_id=item_id,
                    label=label,
                    confidence=confidence,
                    model_version=version,
                )
            )
        Prediction.objects.bulk_create(rows, batch_size=2000)
        AssistModelVersion.objects.create(
            bundle=bundle, version=version, kind="external", predictions=len(rows)
        )
        # A new model version gets a new chance: the audit judges it afresh.
        status = dict(bundle.assist_status or {})
        status.pop("model_off", None)
        status.pop("last_error", None)
        Bundle.objects.filter(pk=bundle.pk).update(assist_status=status)
        if bundle.status in (BundleStatus.PUBLISHED, BundleStatus.PAUSED):
            decide_after_commit(bundle.pk)
    return len(rows)


def decide_after_commit(bundle_id: int) -> None:
    """Decide the bundle's open items again (Celery, once this transaction commits)."""
    from tasks.tasks import assist_decide_task  # the Celery entry module imports the services

    transaction.on_commit(lambda: assist_decide_task.delay(bundle_id))


def retrain_after_commit(bundle_id: int) -> None:
    """Ask for a built-in model's retraining once this transaction commits (Celery; the task
    trains only every `retrain_every` new consensus labels, so asking is cheap)."""
    from tasks.tasks import assist_retrain_task

    transaction.on_commit(lambda: assist_retrain_task.delay(bundle_id))


def _records(lines: Iterable[str | bytes]) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for number, raw in enumerate(lines, start=1):
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except ValueError:
            raise InvalidPredictions(f"Line {number}: not JSON.") from None
        for rec in obj if isinstance(obj, list) else [obj]:
            if not isinstance(rec, dict):
                raise InvalidPredictions(f"Line {number}: expected an object.")
            out.append((number, rec))
    if not out:
        raise InvalidPredictions("No predictions in the upload.")
    return out


def _reference(rec: dict[str, Any]) -> tuple[str, Any]:
    data = rec.get("data")
    sources: list[dict[str, Any]] = [rec, data] if isinstance(data, dict) else [rec]
    for source in sources:
        if source.get("item_id") is not None:
            return "item_id", source["item_id"]
        if source.get("external_id") not in (None, ""):
            return "external_id", str(source["external_id"])
    return "", None


def _item_ids(bundle: Bundle, records: list[tuple[int, dict[str, Any]]]) -> dict[int, int]:
    """Line number -> item id (real items of this bundle only; gold is never predicted)."""
    refs = {line: _reference(rec) for line, rec in records}
    wanted_ext = {v for k, v in refs.values() if k == "external_id"}
    wanted_ids = {v for k, v in refs.values() if k == "item_id"}
    items = Item.objects.filter(bundle=bundle, is_gold=False)
    by_ext = dict(
        items.filter(external_id__in=wanted_ext).values_list("external_id", "id")
        if wanted_ext
        else []
    )
    known_ids = set(
        items.filter(pk__in=[i for i in wanted_ids if isinstance(i, int)]).values_list(
            "id", flat=True
        )
    )
    out: dict[int, int] = {}
    seen: set[int] = set()
    for line, (kind, value) in refs.items():
        item_id = by_ext.get(value) if kind == "external_id" else value
        if kind == "" or (kind == "item_id" and value not in known_ids) or item_id is None:
            raise InvalidPredictions(
                f"Line {line}: no item of this bundle with that item_id or external_id."
            )
        if item_id in seen:
            raise InvalidPredictions(f"Line {line}: a second prediction for the same item.")
        seen.add(item_id)
        out[line] = item_id
    return out


def _label(question: dict[str, Any], rec: dict[str, Any], payload: Any, line: int) -> Any:
    """(label in the answer's shape, confidence in [0, 1]) from a DESIGN line or a Label
    Studio task's first prediction."""
    if "label" in rec:
        label, confidence = rec["label"], rec.get("confidence")
    elif isinstance(rec.get("predictions"), list) and rec["predictions"]:
        first = rec["predictions"][0]
        label = labelstudio_answer(question, first.get("result") or [], payload)
        confidence = first.get("score")
    else:
        raise InvalidPredictions(f"Line {line}: needs a label (or Label Studio predictions).")
    try:
        label = answer_validate(question, label, payload=payload)
    except InvalidAnswer as exc:
        raise InvalidPredictions(f"Line {line}: {exc}") from None
    if confidence is None:
        raise InvalidPredictions(f"Line {line}: needs a confidence in [0, 1].")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise InvalidPredictions(f"Line {line}: confidence must be a number in [0, 1].")
    if not math.isfinite(confidence) or not 0 <= confidence <= 1:
        raise InvalidPredictions(f"Line {line}: confidence must be in [0, 1].")
    return label, float(confidence)
