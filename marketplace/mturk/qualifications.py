"""MTurk qualification types over the requester's own qualifications: types, grants
(`AssociateQualificationWithWorker`), requests and their test, scored by the AnswerKey or
granted at once (`AutoGranted`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import defusedxml.ElementTree as ET
from django.db import transaction
from django.utils import timezone

from accounts.models import User, WorkerQualification
from accounts.services import qualification_create, qualification_grant, qualification_revoke

from .errors import MTurkRequestError
from .ids import new_id
from .models import QualificationRequest, QualificationRequestStatus, QualificationType
from .protocol import request_error
from .questions import answers_xml, parse_question

STATUSES = ("Active", "Inactive")


def qual_type_of(requester: User, type_id: str) -> QualificationType:
    found = (
        QualificationType.objects.select_related("qualification")
        .filter(requester=requester, qualification_type_id=type_id, disposed_at__isnull=True)
        .first()
    )
    if found is None:
        raise MTurkRequestError(
            f"Qualification type {type_id} does not exist.",
            "AWS.MechanicalTurk.QualificationTypeDoesNotExist",
        )
    return found


def _check_test(test: str, answer_key: str, auto_granted: bool) -> None:
    if test:
        if parse_question(test).kind != "QuestionForm":
            raise request_error("Test must be a QuestionForm.")
        if auto_granted:
            raise request_error("AutoGranted cannot be used with a Test.")
    if answer_key:
        if not test:
            raise request_error("An AnswerKey needs a Test.")
        answer_key_parse(answer_key)


def _apply(qtype: QualificationType, params: dict[str, Any]) -> None:
    fields = {
        "Description": "description", "Keywords": "keywords",
        "QualificationTypeStatus": "status", "RetryDelayInSeconds": "retry_delay_seconds",
        "Test": "test", "AnswerKey": "answer_key", "TestDurationInSeconds": "test_duration_seconds",
        "AutoGranted": "auto_granted", "AutoGrantedValue": "auto_granted_value",
    }  # fmt: skip
    for name, field in fields.items():
        if name in params:
            setattr(qtype, field, params[name])
    if len(qtype.keywords) > 1000:
        raise request_error("Keywords is at most 1000 characters.")
    if qtype.status not in STATUSES:
        raise request_error("QualificationTypeStatus is Active or Inactive.")
    if qtype.test and not qtype.test_duration_seconds:
        raise request_error("TestDurationInSeconds is required with a Test.")
    _check_test(qtype.test, qtype.answer_key, qtype.auto_granted)


@transaction.atomic
def qual_type_create(*, requester: User, params: dict[str, Any]) -> QualificationType:
    name = params["Name"].strip()
    if not name or len(name) > 200:
        raise request_error("Name is 1 to 200 characters.")
    if QualificationType.objects.filter(
        requester=requester, name=name, disposed_at__isnull=True
    ).exists():
        raise request_error(
            f"You have already created a QualificationType with the name {name}.",
            "QualificationTypeAlreadyExists",
        )
    type_id = new_id()
    qtype = QualificationType(
        qualification_type_id=type_id,
        requester=requester,
        name=name,
        qualification=qualification_create(
            owner=requester, name=f"mturk-{type_id.lower()}", description=name
        ),
    )
    _apply(qtype, params)
    qtype.save()
    return qtype


@transaction.atomic
def qual_type_update(*, qtype: QualificationType, params: dict[str, Any]) -> QualificationType:
    _apply(qtype, params)
    qtype.save()
    return qtype


@transaction.atomic
def qual_type_delete(*, qtype: QualificationType) -> None:
    """Dispose of the type: it is no longer listed or requestable. HITs requiring it keep
    their requirement (and the grants stay behind it), as on MTurk."""
    QualificationType.objects.filter(pk=qtype.pk).update(disposed_at=timezone.now())


def grant(*, qtype: QualificationType, worker: User, value: int) -> WorkerQualification:
    return qualification_grant(
        qualification=qtype.qualification, worker=worker, value=value, by=qtype.requester
    )


def revoke(*, qtype: QualificationType, worker: User) -> None:
    qualification_revoke(qualification=qtype.qualification, worker=worker)


def score_of(qtype: QualificationType, worker: User) -> WorkerQualification:
    found = WorkerQualification.objects.filter(
        qualification=qtype.qualification, worker=worker
    ).first()
    if found is None:
        raise MTurkRequestError(
            "You requested a Qualification that does not exist.",
            "AWS.MechanicalTurk.QualificationDoesNotExist",
        )
    return found


# ---------------------------------------------------------------------------------------------
# Requests and tests


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def answer_key_parse(xml: str) -> tuple[dict[str, dict[str, int]], dict[str, Any]]:
    """An AnswerKey: {question: {selection: score}} and its value mapping
    ({"percent_of": max} or {"multiplier": m}, or {} for the plain sum)."""
    try:
        root = ET.fromstring(xml, forbid_dtd=True)
    except ET.ParseError as exc:
        raise request_error(f"AnswerKey is not well-formed XML: {exc}.") from None
    except Exception as exc:  # defusedxml refusals (DTDs, entities)
        raise request_error(f"AnswerKey refused: {exc}.") from None
    scores: dict[str, dict[str, int]] = {}
    mapping: dict[str, Any] = {}
    for element in root:
        kind = _local(element.tag)
        if kind == "Question":
            ident = ""
            options: dict[str, int] = {}
            for child in element:
                if _local(child.tag) == "QuestionIdentifier":
                    ident = (child.text or "").strip()
                elif _local(child.tag) == "AnswerOption":
                    values = {_local(c.tag): (c.text or "").strip() for c in child}
                    options[values.get("SelectionIdentifier", "")] = _int(
                        values.get("AnswerScore", "0")
                    )
            scores[ident] = options
        elif kind == "QualificationValueMapping":
            for child in element:
                values = {_local(c.tag): (c.text or "").strip() for c in child}
                if _local(child.tag) == "PercentageMapping":
                    mapping = {"percent_of": _int(values.get("MaximumSummedScore", "0"))}
                elif _local(child.tag) == "ScaleMapping":
                    mapping = {"multiplier": float(values.get("SummedScoreMultiplier", "1"))}
    return scores, mapping


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise request_error(f"AnswerKey: {text!r} is not an integer.") from None


def test_score(answer_key: str, answers: dict[str, Any]) -> int:
    """The qualification value a worker's test answers earn under the AnswerKey."""
    scores, mapping = answer_key_parse(answer_key)
    total = 0
    for ident, options in scores.items():
        chosen = answers.get(ident)
        picked = chosen if isinstance(chosen, list) else [chosen]
        total += sum(options.get(str(choice), 0) for choice in picked if choice is not None)
    if "percent_of" in mapping and mapping["percent_of"] > 0:
        return round(total * 100 / mapping["percent_of"])
    if "multiplier" in mapping:
        return round(total * mapping["multiplier"])
    return total


@transaction.atomic
def request_submit(
    *, worker: User, qtype: QualificationType, answers: dict[str, Any] | None = None
) -> QualificationRequest:
    """A worker asks for a qualification (the worker side calls this): granted at once when
    the type is AutoGranted or has an AnswerKey (scored), otherwise left for the requester."""
    if qtype.status != "Active" or qtype.disposed_at is not None:
        raise request_error("This qualification type is not requestable.")
    last = QualificationRequest.objects.filter(qualification_type=qtype, worker=worker).last()
    if last is not None:
        delay = qtype.retry_delay_seconds
        if last.status == QualificationRequestStatus.PENDING:
            raise request_error("You already have a request waiting.")
        if delay is None or last.submitted_at + timedelta(seconds=delay) > timezone.now():
            raise request_error("You cannot request this qualification again yet.")
    answer_text = answers_xml(answers or {}) if qtype.test else ""
    request = QualificationRequest.objects.create(
        request_id=new_id(), qualification_type=qtype, worker=worker, answer=answer_text
    )
    if qtype.auto_granted:
        request_accept(request=request, value=qtype.auto_granted_value)
    elif qtype.answer_key:
        request_accept(request=request, value=test_score(qtype.answer_key, answers or {}))
    return request


def request_of(requester: User, request_id: str) -> QualificationRequest:
    found = (
        QualificationRequest.objects.select_related("qualification_type", "worker")
        .filter(request_id=request_id, qualification_type__requester=requester)
        .first()
    )
    if found is None or found.status != QualificationRequestStatus.PENDING:
        raise MTurkRequestError(
            f"Qualification request {request_id} does not exist or is no longer pending.",
            "AWS.MechanicalTurk.QualificationRequestDoesNotExist",
        )
    return found


@transaction.atomic
def request_accept(*, request: QualificationRequest, value: int = 1) -> None:
    grant(qtype=request.qualification_type, worker=request.worker, value=value)
    QualificationRequest.objects.filter(pk=request.pk).update(
        status=QualificationRequestStatus.ACCEPTED, decided_at=timezone.now()
    )
    request.refresh_from_db()


@transaction.atomic
def request_reject(*, request: QualificationRequest, reason: str = "") -> None:
    QualificationRequest.objects.filter(pk=request.pk).update(
        status=QualificationRequestStatus.REJECTED, reason=reason, decided_at=timezone.now()
    )
