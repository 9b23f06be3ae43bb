"""The closed loop (DESIGN.md): the assist object, predictions through the API, the model as a
prior in the stopping rule, auto-accept with the audit, provenance in exports."""

from __future__ import annotations

import json

import pytest
from django.test import TestCase

from tasks import services
from tasks.assist import audit, prior
from tasks.models import Bundle, Item, ItemResult, ItemState, Prediction
from tests.conftest import client_for
from tests.factories import SENTIMENT, BundleFactory, ItemFactory, WorkerFactory, fund
from tests.tasks.quality.conftest import claim_submit

pytestmark = pytest.mark.django_db

ASSIST = {"model": "external", "auto_accept": True, "audit_rate": 0.0}


def _bundle(requester, *, items=4, assist=ASSIST, min_overlap=1, max_overlap=5, **fields):
    bundle = BundleFactory(
        requester=requester, assist=assist, min_overlap=min_overlap, max_overlap=max_overlap,
        target_confidence=0.95, **fields,
    )  # fmt: skip
    for n in range(items):
        ItemFactory(bundle=bundle, external_id=f"r{n}", slots_open=min_overlap)
    return bundle


def _post(requester, bundle, lines, content_type="application/x-ndjson"):
    body = "\n".join(json.dumps(line) for line in lines)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client_for(requester).post(
            f"/api/v1/bundles/{bundle.pk}/predictions/", body, content_type=content_type
        )


def _vetted(bundle, version=1):
    """As if `version` had passed its audit (see test_a_new_model_auto_accepts_only_once_vetted)."""
    Bundle.objects.filter(pk=bundle.pk).update(assist_status={"vetted_version": version})
    bundle.refresh_from_db()
    return bundle


def _publish(bundle):
    fund(bundle.requester)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return services.bundle_publish(bundle=bundle, by=bundle.requester)


def test_bundle_create_validates_and_stores_the_assist_object(requester):
    api = client_for(requester)
    body = {
        "title": "t", "question": SENTIMENT, "reward": 5, "min_overlap": 1, "max_overlap": 5,
        "target_confidence": 0.95, "assist": {"model": "text", "auto_accept": True},
    }  # fmt: skip
    response = api.post("/api/v1/bundles/", body, format="json")
    assert response.status_code == 201, response.json()
    assist = Bundle.objects.get(pk=response.json()["id"]).assist
    assert assist["model"] == "text" and assist["audit_rate"] == 0.05
    assert assist["retrain_every"] == 200 and assist["show_prelabels"] is False
    bad = api.post("/api/v1/bundles/", {**body, "assist": {"model": "x"}}, format="json")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_assist")
    bad = api.post("/api/v1/bundles/", {**body, "assist": {"audit_rate": 2}}, format="json")
    assert bad.json()["code"] == "invalid_assist"
    # min_overlap 0 only with auto-accept
    zero = {**body, "min_overlap": 0, "assist": {"model": "external"}}
    assert api.post("/api/v1/bundles/", zero, format="json").json()["code"] == "invalid_overlap"
    zero["assist"] = {"model": "external", "auto_accept": True}
    assert api.post("/api/v1/bundles/", zero, format="json").status_code == 201
    plain = {k: v for k, v in body.items() if k != "assist"}
    assert api.post("/api/v1/bundles/", plain, format="json").json()["assist"] is None


def test_predictions_posted_through_the_api_are_stored_as_a_version(requester):
    bundle = _bundle(requester)
    item = bundle.items.order_by("id").first()
    response = _post(
        requester, bundle,
        [{"external_id": "r1", "label": "pos", "confidence": 0.83},
         {"item_id": item.pk, "label": "neg", "confidence": 0.6}],
    )  # fmt: skip
    assert (response.status_code, response.json()) == (201, {"accepted": 2})
    assert Prediction.objects.filter(bundle=bundle, model_version=1).count() == 2
    again = _post(requester, bundle, [{"external_id": "r1", "label": "neg", "confidence": 0.9}])
    assert again.json() == {"accepted": 1}
    assert Prediction.objects.filter(model_version=2).get().label == "neg"
    report = client_for(requester).get(f"/api/v1/bundles/{bundle.pk}/assist/").json()
    assert report["model_version"] == 2 and len(report["learning_curve"]) == 2
    assert report["fixed_overlap_equivalent"] == 5 and report["auto_accept"] == "off"


def test_bad_predictions_are_refused_whole(requester):
    bundle = _bundle(requester)
    for lines in (
        [{"external_id": "r1", "label": "maybe", "confidence": 0.8}],
        [{"external_id": "nope", "label": "pos", "confidence": 0.8}],
        [{"external_id": "r1", "label": "pos", "confidence": 1.5}],
        [{"external_id": "r1", "label": "pos"}],
    ):
        response = _post(requester, bundle, [{"external_id": "r0", "label": "pos",
                                              "confidence": 0.8}, *lines])  # fmt: skip
        assert (response.status_code, response.json()["code"]) == (400, "invalid_predictions")
    assert not Prediction.objects.exists()
    other = BundleFactory(requester=requester)
    ItemFactory(bundle=other, external_id="r0")
    response = _post(requester, other, [{"external_id": "r0", "label": "pos", "confidence": 1}])
    assert (response.status_code, response.json()["code"]) == (409, "assist_off")
    stranger = client_for(WorkerFactory()).post(
        f"/api/v1/bundles/{bundle.pk}/predictions/", "{}", content_type="application/x-ndjson"
    )
    assert stranger.status_code in (403, 404)


def test_label_studio_pre_annotations_are_accepted(requester):
    bundle = _bundle(requester)
    task = {
        "data": {"external_id": "r2", "text": "great"},
        "predictions": [{"score": 0.91, "result": [
            {"from_name": "label", "to_name": "text", "type": "choices",
             "value": {"choices": ["pos"]}}]}],
    }  # fmt: skip
    response = _post(requester, bundle, [task], content_type="application/json")
    assert response.json() == {"accepted": 1}
    row = Prediction.objects.get()
    assert (row.item.external_id, row.label, row.confidence) == ("r2", "pos", 0.91)


def test_a_confident_model_and_one_agreeing_judgment_complete_an_item(requester, draw):
    bundle = _bundle(requester, items=1, assist={**ASSIST, "auto_accept": False})
    bundle = _publish(bundle)
    _post(requester, bundle, [{"external_id": "r0", "label": "pos", "confidence": 0.9}])
    item = bundle.items.get()
    item.refresh_from_db()
    assert item.state == ItemState.OPEN  # no auto-accept: it waits for one judgment
    claim_submit(bundle, WorkerFactory(), "pos")
    item.refresh_from_db()
    assert (item.state, item.judgments_submitted) == (ItemState.COMPLETE, 1)
    result = ItemResult.objects.get(item=item)
    assert (result.label, result.provenance, result.model_version) == ("pos", "model+human", 1)
    assert result.confidence >= 0.95


def test_without_a_prediction_the_plain_rule_decides(requester, draw):
    bundle = _bundle(requester, items=1, assist={**ASSIST, "auto_accept": False})
    bundle = _publish(bundle)
    item = bundle.items.get()
    claim_submit(bundle, WorkerFactory(), "pos")
    item.refresh_from_db()
    assert item.state == ItemState.OPEN
    assert ItemResult.objects.get(item=item).provenance == "human"


def test_auto_accept_with_min_overlap_zero_completes_on_the_model_alone(requester, draw):
    bundle = _bundle(requester, items=2, min_overlap=0)
    lines = [
        {"external_id": "r0", "label": "pos", "confidence": 0.99},
        {"external_id": "r1", "label": "neg", "confidence": 0.6},
    ]
    _post(requester, bundle, lines)
    bundle = _vetted(bundle)
    bundle = _publish(bundle)
    sure, unsure = bundle.items.order_by("external_id")
    sure.refresh_from_db()
    unsure.refresh_from_db()
    assert (sure.state, sure.judgments_submitted) == (ItemState.COMPLETE, 0)
    result = ItemResult.objects.get(item=sure)
    assert (result.label, result.provenance, result.judgments) == ("pos", "model", 0)
    assert (unsure.state, unsure.slots_open) == (ItemState.OPEN, 1)
    rows = client_for(requester).get(f"/api/v1/bundles/{bundle.pk}/results/?format=jsonl")
    lines = [json.loads(x) for x in b"".join(rows.streaming_content).splitlines()]
    by_ext = {row["external_id"]: row for row in lines}
    assert by_ext["r0"]["provenance"] == "model" and by_ext["r0"]["model_version"] == 1
    assert by_ext["r0"]["audited"] is False


def test_auto_accept_never_completes_where_model_and_humans_disagree(requester, draw):
    bundle = _bundle(requester, items=1, min_overlap=1, max_overlap=3)
    bundle = _publish(bundle)
    _post(requester, bundle, [{"external_id": "r0", "label": "pos", "confidence": 0.98}])
    item = bundle.items.get()
    claim_submit(bundle, WorkerFactory(), "neg")  # a 0.98 model outweighs one 0.7 worker
    item.refresh_from_db()
    assert item.state != ItemState.COMPLETE
    claim_submit(bundle, WorkerFactory(), "pos")  # a tie is no overrule: the prior decides
    item.refresh_from_db()
    result = ItemResult.objects.get(item=item)
    if item.state == ItemState.COMPLETE:
        assert result.label == "pos" and result.provenance == "model+human"


def test_humans_decide_at_max_overlap_against_the_model(requester, draw):
    bundle = _bundle(requester, items=1, min_overlap=1, max_overlap=2)
    bundle = _publish(bundle)
    _post(requester, bundle, [{"external_id": "r0", "label": "pos", "confidence": 0.98}])
    item = bundle.items.get()
    for _ in range(2):
        claim_submit(bundle, WorkerFactory(), "neg")
    item.refresh_from_db()
    result = ItemResult.objects.get(item=item)
    assert (item.state, result.label, result.provenance) == (ItemState.COMPLETE, "neg", "human")


def test_audited_items_get_full_human_overlap(requester, draw):
    bundle = _bundle(requester, items=1, min_overlap=0, max_overlap=3,
                     assist={**ASSIST, "audit_rate": 1.0})  # fmt: skip
    _post(requester, bundle, [{"external_id": "r0", "label": "pos", "confidence": 0.99}])
    bundle = _publish(bundle)
    item = bundle.items.get()
    for n in range(3):
        item.refresh_from_db()
        assert item.state != ItemState.COMPLETE, n
        claim_submit(bundle, WorkerFactory(), "pos")
    item.refresh_from_db()
    result = ItemResult.objects.get(item=item)
    assert (item.state, result.audited, result.provenance) == (ItemState.COMPLETE, True, "human")


def test_the_audit_turns_auto_accept_off(requester, draw):
    bundle = _bundle(requester, items=6, min_overlap=0, max_overlap=3,
                     assist={**ASSIST, "audit_rate": 1.0, "audit_limit": 0.1})  # fmt: skip
    _post(requester, bundle, [{"external_id": f"r{n}", "label": "pos", "confidence": 0.99}
                              for n in range(6)])  # fmt: skip
    bundle = _publish(bundle)
    for _ in range(3 * 6):  # routing may spread the judgments over all the items
        claim_submit(bundle, WorkerFactory(), "neg")  # the model is wrong on every item
        bundle.refresh_from_db()
        if bundle.assist_status.get("model_off"):
            break
    assert bundle.assist_status["model_off"] is True
    assert not prior.assist_active(bundle) and not prior.auto_accept_on(bundle)
    report = client_for(requester).get(f"/api/v1/bundles/{bundle.pk}/assist/").json()
    assert report["auto_accept"] == "disabled" and report["audit_disagreement"] == 1.0
    assert "disagreed" in report["model_off_reason"]
    # the remaining items are decided by people alone now
    left = list(Item.objects.filter(bundle=bundle).exclude(state=ItemState.COMPLETE))
    assert left
    while Item.objects.filter(bundle=bundle).exclude(state=ItemState.COMPLETE).exists():
        claim_submit(bundle, WorkerFactory(), "pos")
    assert {ItemResult.objects.get(item=i).provenance for i in left} == {"human"}


def test_audit_selection_is_stable_and_near_the_rate():
    chosen = [prior.is_audited(i, 0.05) for i in range(20_000)]
    assert chosen == [prior.is_audited(i, 0.05) for i in range(20_000)]
    assert 0.04 < sum(chosen) / len(chosen) < 0.06


def test_whole_bundle_aggregation_keeps_the_models_results(requester, draw):
    from tasks.quality import bundle_aggregation

    bundle = _bundle(requester, items=2, min_overlap=0)
    _post(requester, bundle, [{"external_id": "r0", "label": "pos", "confidence": 0.99}])
    bundle = _vetted(bundle)
    bundle = _publish(bundle)
    bundle_aggregation.bundle_aggregate(bundle_id=bundle.pk)
    kept = ItemResult.objects.get(item__external_id="r0", item__bundle=bundle)
    assert (kept.label, kept.provenance) == ("pos", "model")


def test_csv_results_carry_provenance(requester, draw):
    bundle = _bundle(requester, items=1, min_overlap=0)
    _post(requester, bundle, [{"external_id": "r0", "label": "pos", "confidence": 0.99}])
    bundle = _vetted(bundle)
    bundle = _publish(bundle)
    response = client_for(requester).get(f"/api/v1/bundles/{bundle.pk}/results/?format=csv")
    text = b"".join(response.streaming_content).decode()
    header, row = text.splitlines()[:2]
    assert header.split(",")[-4:] == ["provenance", "audited", "model_version", "judgments"]
    assert ",model,False,1," in row


def test_a_new_model_auto_accepts_only_once_vetted(requester, draw):
    bundle = _bundle(requester, items=40, min_overlap=0, max_overlap=3,
                     assist={**ASSIST, "audit_rate": 0.3})  # fmt: skip
    _post(requester, bundle, [{"external_id": f"r{n}", "label": "pos", "confidence": 0.99}
                              for n in range(40)])  # fmt: skip
    bundle = _publish(bundle)
    assert not bundle.items.filter(state=ItemState.COMPLETE).exists()  # unproven: no auto-accept
    while "vetted_version" not in Bundle.objects.get(pk=bundle.pk).assist_status:
        claim_submit(bundle, WorkerFactory(), "pos")  # people agree with the model
    auto = ItemResult.objects.filter(item__bundle=bundle, provenance="model")
    assert auto.exists() and all(r.judgments == 0 for r in auto)
    audited = ItemResult.objects.filter(item__bundle=bundle, audited=True)
    assert audited.count() >= audit.AUDIT_MIN_ITEMS


def test_a_plain_decision_resets_an_earlier_model_provenance(requester, draw):
    # given: an item the model labelled with no judgment (not yet confident enough to complete)
    bundle = _bundle(requester, items=1, min_overlap=0, max_overlap=3)
    _post(requester, bundle, [{"external_id": "r0", "label": "pos", "confidence": 0.9}])
    bundle = _publish(_vetted(bundle))
    item = bundle.items.get()
    assert ItemResult.objects.get(item=item).provenance == "model"
    # when: the audit switches the model off and people answer
    Bundle.objects.filter(pk=bundle.pk).update(assist_status={"model_off": True})
    for _ in range(3):
        claim_submit(bundle, WorkerFactory(), "neg")
    # then: the result is people's, and says so
    result = ItemResult.objects.get(item=item)
    assert (result.label, result.provenance, result.model_version) == ("neg", "human", None)


def test_jsonl_results_carry_provenance_per_item(requester, draw):
    # given: r0 settled by the model alone, r1 by the model and one agreeing judgment, r2 by
    # people alone (no prediction)
    bundle = _bundle(requester, items=3, min_overlap=0)
    predictions = [
        {"external_id": "r0", "label": "pos", "confidence": 0.99},
        {"external_id": "r1", "label": "neg", "confidence": 0.9},
    ]
    _post(requester, bundle, predictions)
    bundle = _publish(_vetted(bundle))
    for _ in range(6):
        item = bundle.items.filter(state=ItemState.OPEN).order_by("id").first()
        if item is None:
            break
        claim_submit(bundle, WorkerFactory(), "neg")
    # when: the requester exports the results as JSONL
    response = client_for(requester).get(f"/api/v1/bundles/{bundle.pk}/results/?format=jsonl")
    rows = {
        row["external_id"]: row
        for row in map(json.loads, b"".join(response.streaming_content).decode().splitlines())
    }
    # then: each row says who labelled it, whether it was audited, and with which model version
    assert {k: (r["label"], r["provenance"], r["audited"], r["model_version"])
            for k, r in rows.items()} == {
        "r0": ("pos", "model", False, 1),
        "r1": ("neg", "model+human", False, 1),
        "r2": ("neg", "human", False, None),
    }  # fmt: skip
    assert rows["r0"]["judgments"] == [] and len(rows["r1"]["judgments"]) == 1
