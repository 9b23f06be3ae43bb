"""The worker side of MTurk HITs: the ids and parameters a HIT's page gets, the capability URL
an external page submits to, and recording an `externalSubmit`.

An ExternalQuestion runs on the requester's own site, in a frame of our work page. It posts
its answer to `turkSubmitTo + "/mturk/externalSubmit"`, as MTurk's did. That post comes from a
cross-site frame, so browsers send no session cookie with it (SameSite=Lax); `turkSubmitTo` is
therefore a signed URL naming the assignment and its worker, handed only to that worker's
frame. The plain `/mturk/externalSubmit` also works for a signed-in worker (a same-site page).
Either way only the assignment's own worker can submit it, and only while it is claimed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.core import signing

from accounts.models import User
from marketplace.errors import DomainError
from tasks import services
from tasks.models import Assignment, AssignmentStatus, Item, ItemState

from .ids import assignment_pk, assignment_text

#: What MTurk put in `assignmentId` while a worker only previews a HIT (submitting disabled).
PREVIEW_ASSIGNMENT_ID = "ASSIGNMENT_ID_NOT_AVAILABLE"
_TOKEN_SALT = "marketplace.mturk.externalSubmit"  # noqa: S105 (a signing salt, not a secret)
#: Fields a HIT page posts for routing, not as answers (MTurk left assignmentId out too).
ROUTING_FIELDS = frozenset({"assignmentId"})


class ExternalSubmitRefused(DomainError):
    code = "external_submit_refused"
    http_status = 403


def hit_id_for(item: Item) -> str:
    """The HIT's MTurk id when it was created through /mturk/, else the item's key (a bundle
    of "form" items made through our own API is still worked the same way)."""
    hit = getattr(item, "mturk_hit", None)
    return str(getattr(hit, "hit_id", "") or item.pk)


def submit_token(assignment: Assignment) -> str:
    return signing.dumps([assignment.pk, assignment.worker_id], salt=_TOKEN_SALT)


def _token_names(token: str) -> tuple[int, int]:
    try:
        value = signing.loads(token, salt=_TOKEN_SALT)
    except signing.BadSignature:
        raise ExternalSubmitRefused("This submit link is not valid.") from None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise ExternalSubmitRefused("This submit link is not valid.")
    return value[0], value[1]


@dataclass(frozen=True)
class FrameParams:
    """The query MTurk added to a HIT's frame URL (HTMLQuestion and ExternalQuestion alike)."""

    assignment_id: str
    hit_id: str
    worker_id: str = ""
    turk_submit_to: str = ""

    def query(self) -> dict[str, str]:
        params = {"assignmentId": self.assignment_id, "hitId": self.hit_id}
        if self.worker_id:
            params["workerId"] = self.worker_id
        if self.turk_submit_to:
            params["turkSubmitTo"] = self.turk_submit_to
        return params

    @property
    def preview(self) -> bool:
        return self.assignment_id == PREVIEW_ASSIGNMENT_ID


def frame_params(assignment: Assignment, *, worker_id: str, base_url: str) -> FrameParams:
    """`worker_id` is the worker's id as this requester sees it (a pseudonym, never our key);
    `base_url` the site's origin, for the absolute `turkSubmitTo`."""
    submit_to = f"{base_url.rstrip('/')}/mturk/submit/{submit_token(assignment)}"
    return FrameParams(
        assignment_id=assignment_text(assignment.pk),
        hit_id=hit_id_for(assignment.item),
        worker_id=worker_id,
        turk_submit_to=submit_to,
    )


def preview_params(item: Item) -> FrameParams:
    """A preview gets no worker id and nowhere to submit to, as on MTurk."""
    return FrameParams(assignment_id=PREVIEW_ASSIGNMENT_ID, hit_id=hit_id_for(item))


def url_with_params(url: str, params: FrameParams) -> str:
    """The requester's URL with the frame parameters added to its own query."""
    parts = urlsplit(url)
    extra = urlencode(params.query())
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def answer_from_fields(fields: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """A posted form as an answer: one value per field, a list where a name repeats (checkbox
    groups), routing fields left out."""
    answer: dict[str, Any] = {}
    for name, value in fields:
        if name in ROUTING_FIELDS:
            continue
        if name in answer:
            previous = answer[name]
            answer[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            answer[name] = value
    return answer


def external_submit(
    *,
    assignment_text_id: str,
    fields: Iterable[tuple[str, str]],
    token: str | None,
    user: User | None,
) -> Assignment:
    """Record an externalSubmit. The worker is the one the signed `token` names, or else the
    signed-in `user`; the assignment must be theirs and still claimed. Raises
    ExternalSubmitRefused (403) for anyone else, InvalidAnswer for an answer that does not fit,
    DomainError for one past its deadline."""
    pk = assignment_pk(assignment_text_id or "")
    if assignment_text_id == PREVIEW_ASSIGNMENT_ID:
        raise ExternalSubmitRefused("This is a preview: accept the task before submitting.")
    if pk is None:
        raise ExternalSubmitRefused("Unknown assignmentId.")
    if token is not None:
        token_pk, worker_pk = _token_names(token)
        if token_pk != pk:
            raise ExternalSubmitRefused("This submit link belongs to another assignment.")
    elif user is not None and user.is_authenticated:
        worker_pk = user.pk
    else:
        raise ExternalSubmitRefused("Sign in as the worker who accepted this task.")
    assignment = (
        Assignment.objects.select_related("bundle", "item", "worker")
        .filter(pk=pk, worker_id=worker_pk)
        .first()
    )
    if assignment is None or assignment.bundle.question.get("type") != "form":
        raise ExternalSubmitRefused("This is not your assignment.")
    if assignment.status != AssignmentStatus.CLAIMED:
        raise DomainError(
            f"This assignment is already {assignment.get_status_display().lower()}.",
            code="assignment_not_open",
            http_status=409,
        )
    services.assignment_submit(
        assignment_id=assignment.pk,
        worker=assignment.worker,
        answer=answer_from_fields(fields),
        bundle=assignment.bundle,
    )
    assignment.refresh_from_db()
    return assignment


def preview_item(bundle_id: int) -> Item | None:
    """The task a worker previews before accepting: the bundle's first open item that is not
    gold (a preview must not teach which items check quality)."""
    return (
        Item.objects.filter(bundle_id=bundle_id, is_gold=False, state=ItemState.OPEN)
        .order_by("pk")
        .first()
    )
