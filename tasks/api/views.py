"""Thin views over tasks.services and tasks.selectors. Objects outside the caller's scope are
404 (their existence is not confirmed), never 403."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.http import Http404, StreamingHttpResponse
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FileUploadParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from accounts.models import User
from marketplace.errors import DomainError
from marketplace.permissions import IsRequester, IsWorker
from tasks import exports, find_work, review, review_queue, selectors, services, work
from tasks.models import Assignment, AssignmentStatus, Bundle, Item
from tasks.quality import blocking, rules_engine
from tasks.quality.block_preview import worker_block_preview

from . import serializers as s
from .assist import AssistActions
from .find_work import FindWorkFilter, WorkOfferSerializer
from .quality import QualityActions
from .training import TrainingActions
from .upload_schema import item_upload_json_schema


class _BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 instant that every database can compare: a UTC offset within +-14:00 (the
    real ones; PostgreSQL refuses +23:59) and a year from 1900 to 9000 (no overflow when
    converted to UTC). Anything else is a 400, not a database error."""

    def to_python(self, value: Any) -> Any:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        offset = parsed.utcoffset()
        if offset is not None and abs(offset) > timedelta(hours=14):
            raise forms.ValidationError("UTC offset out of range.", code="invalid")
        if not 1900 <= parsed.year <= 9000:
            raise forms.ValidationError("Year out of range.", code="invalid")
        return parsed


class _BoundedIsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = _BoundedIsoDateTimeField


class AssignmentFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=AssignmentStatus.choices)
    is_gold = filters.BooleanFilter()
    submitted_after = _BoundedIsoDateTimeFilter(field_name="submitted_at", lookup_expr="gte")
    # The review queue's filters (issue 15), as on the review page.
    worker_id = filters.CharFilter(method="filter_worker", help_text="The worker's pseudonym.")
    gold_correct = filters.BooleanFilter(help_text="false: gold answers that failed.")
    disagrees = filters.BooleanFilter(
        method="filter_disagrees", help_text="true: answers that differ from the item's label."
    )
    max_confidence = filters.NumberFilter(
        field_name="item__result__confidence", lookup_expr="lte",
        help_text="The item's label is at most this confident (0 to 1).",
    )  # fmt: skip

    class Meta:
        model = Assignment
        fields = ["status", "is_gold", "item", "bundle"]

    def filter_worker(self, queryset, name, value):
        worker = selectors.requester_worker_from_public_id(self.request.user.pk, value)
        return queryset.filter(worker_id=worker) if worker is not None else queryset.none()

    def filter_disagrees(self, queryset, name, value):
        matching = review_queue.disagreeing(queryset)
        return matching if value else queryset.exclude(pk__in=matching.values("pk"))


class ItemFilter(filters.FilterSet):
    class Meta:
        model = Item
        fields = ["state", "is_gold", "external_id"]


class BundleViewSet(AssistActions, TrainingActions, QualityActions, viewsets.ModelViewSet):
    """A requester's bundles: create, edit, publish, pause, resume, cancel, upload, results."""

    permission_classes = [IsRequester]
    filterset_fields = ["status"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Bundle.objects.none()
        return selectors.bundles_of_requester(self.request.user)

    def get_serializer_class(self):
        return s.BundleDetailSerializer if self.action == "retrieve" else s.BundleSerializer

    def filter_queryset(self, queryset):
        # ?status= filters the bundle list; on a bundle's sub-resources it means their status.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def perform_create(self, serializer):
        serializer.instance = services.bundle_create(
            requester=self.request.user, data=serializer.to_service_data()
        )

    def perform_update(self, serializer):
        serializer.instance = services.bundle_update(
            bundle=serializer.instance, by=self.request.user, data=serializer.to_service_data()
        )

    def perform_destroy(self, instance):
        services.bundle_delete_draft(bundle=instance, by=self.request.user)

    def _transition(self, service):
        bundle = service(bundle=self.get_object(), by=self.request.user)
        return Response(s.BundleDetailSerializer(bundle).data)

    @extend_schema(request=None, responses=s.BundleDetailSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        return self._transition(services.bundle_publish)

    @extend_schema(request=None, responses=s.BundleDetailSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._transition(services.bundle_pause)

    @extend_schema(request=None, responses=s.BundleDetailSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._transition(services.bundle_resume)

    @extend_schema(request=None, responses=s.BundleDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._transition(services.bundle_cancel)

    @extend_schema(
        methods=["POST"],
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            },
            "text/csv": OpenApiTypes.STR,
            "application/json": item_upload_json_schema(),
            "application/x-ndjson": OpenApiTypes.STR,
        },
        responses={201: s.UploadSummarySerializer},
    )
    @extend_schema(methods=["GET"], responses=s.RequesterItemSerializer(many=True))
    @action(
        detail=True,
        methods=["get", "post"],
        parser_classes=[MultiPartParser, JSONParser, FileUploadParser],
    )
    def items(self, request, pk=None):
        bundle = self.get_object()
        if request.method == "GET":
            queryset = ItemFilter(request.GET, bundle.items.order_by("id")).qs
            page = self.paginate_queryset(queryset)
            items = s.RequesterItemSerializer(page, many=True, context={"request": request})
            return self.get_paginated_response(items.data)
        content_type = request.content_type.split(";")[0].strip().lower()
        if content_type == "multipart/form-data":
            upload = request.FILES.get("file")
            if upload is None:
                raise DomainError(
                    "Send the file in the multipart field 'file'.", code="invalid_upload"
                )
            source, filename, content_type = upload, upload.name, upload.content_type
        else:
            # Raw body: stream it from the request instead of buffering it as request.data.
            source, filename = request._request, None
        summary = services.bundle_add_items(
            bundle=bundle,
            by=request.user,
            source=source,
            content_type=content_type,
            filename=filename,
        )
        body = {"created": summary.created, "gold": summary.gold}
        if summary.media:
            body["media"] = summary.media  # files stored from a zip upload
        return Response(body, status=201)

    @extend_schema(responses=s.RequesterAssignmentSerializer(many=True))
    @action(detail=True, methods=["get"])
    def assignments(self, request, pk=None):
        bundle = self.get_object()
        filterset = AssignmentFilter(
            request.GET, bundle.assignments.select_related("bundle", "item").order_by("id")
        )
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        queryset = filterset.qs
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(s.RequesterAssignmentSerializer(page, many=True).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=list(exports.FORMATS),
                description="export format: csv, jsonl, json and labelstudio for every "
                "question; coco, yolo (zip), voc (zip) for boxes and polygons; spacy, conll "
                "for text spans; pairs, ranking for pairwise",
            )
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/json"): {
                "type": "array",
                "items": {"type": "object", "additionalProperties": True},
            },
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            (200, "application/zip"): OpenApiTypes.BINARY,
        },
    )
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        bundle = self.get_object()
        fmt = request.GET.get("format", "json")
        if fmt not in exports.FORMATS:
            raise DomainError(
                f"format must be one of {', '.join(exports.FORMATS)}.", code="invalid_format"
            )
        content_type, chunks = exports.bundle_results_export(
            bundle, fmt, base_url=request.build_absolute_uri("/")
        )
        response = StreamingHttpResponse(chunks, content_type=content_type)
        name = f"bundle-{bundle.pk}-results.{exports.EXTENSIONS[fmt]}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @extend_schema(methods=["GET"], responses=s.WorkerStatsSerializer(many=True))
    @extend_schema(
        methods=["POST"], request=s.WorkerBlockSerializer, responses=s.WorkerStatsSerializer
    )
    @action(detail=True, methods=["get", "post"])
    def workers(self, request, pk=None):
        """GET: per-worker quality in this bundle. POST: block (with a reason) or unblock
        (empty reason) a worker, by the worker id this requester sees; with `dry_run` true,
        nothing is done and the answer is what a block would do (BlockPreviewSerializer:
        claims ended, items reopened, money reserved), so a client can ask to confirm."""
        bundle = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(
                selectors.bundle_worker_stats(bundle).select_related("bundle")
            )
            return self.get_paginated_response(s.WorkerStatsSerializer(page, many=True).data)
        body = s.WorkerBlockSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        worker = self._worker_by_public_id(bundle, body.validated_data["worker_id"])
        reason = body.validated_data["reason"]
        if body.validated_data["dry_run"]:  # what a block would do, nothing done (issue 15)
            preview = worker_block_preview(worker_id=worker.pk, bundle=bundle)
            data = {"worker_id": body.validated_data["worker_id"], **preview.as_dict()}
            return Response(s.BlockPreviewSerializer(data).data)
        if reason.strip():
            blocking.worker_block(
                worker_id=worker.pk, bundle_id=bundle.pk, reason=reason, by=request.user
            )
        else:
            blocking.worker_unblock(worker_id=worker.pk, bundle_id=bundle.pk, by=request.user)
        stats = selectors.bundle_worker_stats(bundle).select_related("bundle").get(worker=worker)
        return Response(s.WorkerStatsSerializer(stats).data)

    @extend_schema(
        methods=["GET", "POST"], request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT
    )
    @action(detail=True, methods=["get", "post"], url_path="rule-events")
    def rule_events(self, request, pk=None):
        """GET: the history of this bundle's quality rules (rule, figures, action, reason,
        reversal), newest first. POST {"event_id": N}: reverse that action (lift its blocks)."""
        bundle = self.get_object()
        if request.method == "POST":
            # Any JSON may arrive: a list (schemathesis sent `[null, null]`: a 500), a bool
            # or an id beyond the column's range are "no such event", like a wrong id.
            body = request.data if isinstance(request.data, dict) else {}
            event_id = body.get("event_id")
            known = type(event_id) is int and 0 < event_id < 2**63
            if not known or not bundle.rule_events.filter(pk=event_id).exists():
                raise DomainError("No such rule event here.", code="unknown_event", http_status=404)
            rules_engine.rule_event_reverse(event_id=event_id, by=request.user)
        page = self.paginate_queryset(list(bundle.rule_events.all()))
        rows = [
            {
                "id": e.pk,
                "worker_id": selectors.worker_public_id(bundle.requester_id, e.worker_id),
                "rule": e.rule, "figures": e.figures, "action": e.action, "reason": e.reason,
                "created_at": e.created_at, "reversed_at": e.reversed_at,
            }
            for e in page or []
        ]  # fmt: skip
        return self.get_paginated_response(rows)

    @staticmethod
    def _worker_by_public_id(bundle, public_id: str) -> User:
        worker_id = selectors.bundle_worker_from_public_id(bundle, public_id)
        if worker_id is None:
            raise DomainError(
                "No such worker in this bundle.", code="unknown_worker", http_status=404
            )
        return User(pk=worker_id)


class AssignmentReviewViewSet(
    mixins.RetrieveModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet
):
    """Review of submitted work by the bundle's requester."""

    permission_classes = [IsRequester]
    serializer_class = s.RequesterAssignmentSerializer
    filterset_class = AssignmentFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Assignment.objects.none()
        return selectors.assignments_of_requester(self.request.user)

    @extend_schema(request=None, responses=s.RequesterAssignmentSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        assignment = self.get_object()
        assignment = review.assignment_approve(
            assignment_id=assignment.pk, by=request.user, requester=request.user
        )
        return Response(s.RequesterAssignmentSerializer(assignment).data)

    @extend_schema(request=s.RejectSerializer, responses=s.RequesterAssignmentSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        assignment = self.get_object()
        body = s.RejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        assignment = review.assignment_reject(
            assignment_id=assignment.pk,
            by=request.user,
            reason=body.validated_data["reason"],
            requester=request.user,
        )
        return Response(s.RequesterAssignmentSerializer(assignment).data)

    @extend_schema(request=s.BulkReviewSerializer, responses=s.BulkReviewResultSerializer)
    @action(detail=False, methods=["post"])
    def review(self, request):
        body = s.BulkReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        summary = review.assignments_review(
            requester=request.user,
            assignment_ids=body.validated_data["ids"],
            approve=body.validated_data["action"] == "approve",
            reason=body.validated_data["reason"],
        )
        return Response({"done": summary.done, "errors": summary.errors})


class WorkBundleViewSet(viewsets.GenericViewSet):
    """Bundles a worker may work on, and claiming the next task in one."""

    permission_classes = [IsWorker]
    serializer_class = s.WorkBundleSerializer
    filterset_class = FindWorkFilter  # validates and documents the list's parameters

    def get_queryset(self):  # for schema generation only; reads go through selectors
        return Bundle.objects.none()

    @extend_schema(responses=WorkOfferSerializer(many=True))
    def list(self, request):
        """Find work: the bundles open to the worker, searched, filtered and sorted as on the
        page (`tasks.find_work`); a bad parameter is a 400 naming it."""
        params = FindWorkFilter(request.query_params, queryset=Bundle.objects.none())
        if not params.is_valid():
            raise ValidationError(params.errors)
        offers = find_work.offers_matching(find_work.work_offers(request.user), params.criteria())
        page = self.paginate_queryset(offers)
        return self.get_paginated_response(WorkOfferSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        bundle = selectors.bundle_for_worker(request.user, _int(pk))
        if bundle is None:
            raise Http404
        return Response(s.WorkBundleSerializer(bundle).data)

    @extend_schema(request=None, responses={201: s.WorkAssignmentSerializer})
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        bundle = services.bundle_for_claim(bundle_id=_int(pk), worker=request.user)
        assignment = work.assignment_claim(bundle=bundle, worker=request.user)
        data = s.WorkAssignmentSerializer(assignment, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)


class WorkAssignmentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """A worker's own assignments: submit, return, and the history with review outcomes."""

    permission_classes = [IsWorker]
    serializer_class = s.WorkAssignmentSerializer
    filterset_class = AssignmentFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Assignment.objects.none()
        return selectors.assignments_of_worker(self.request.user)

    def filter_queryset(self, queryset):
        # The list's filters (?status=, ?submitted_after=) mean nothing to one assignment, and
        # building the filter form twice cost a worker's submit/?next=1 a fifth of its time.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    @extend_schema(
        request=s.SubmitSerializer,
        responses=s.WorkSubmittedSerializer,
        parameters=[
            OpenApiParameter(
                "next",
                OpenApiTypes.BOOL,
                description="Also claim the next task in the bundle and return it as `next` "
                "(one request per task for a worker's loop).",
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        assignment = self.get_object()
        body = s.SubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        submit = {
            "assignment_id": assignment.pk,
            "worker": request.user,
            "answer": body.validated_data["answer"],
            "bundle": assignment.bundle,
            "signals": body.validated_data.get("signals"),
        }
        context = {"request": request}  # media URLs in the payload are absolute
        if request.query_params.get("next", "").lower() not in ("1", "true", "yes"):
            services.assignment_submit(**submit)
            return Response(s.WorkAssignmentSerializer(self.get_object(), context=context).data)
        result = services.assignment_submit_and_claim_next(**submit)
        data = s.WorkAssignmentSerializer(self.get_object(), context=context).data
        data["next"] = (
            s.WorkAssignmentSerializer(result.next, context=context).data if result.next else None
        )
        data["no_next"] = (
            {"code": result.no_next.code, "detail": result.no_next.detail}
            if result.no_next
            else None
        )
        return Response(data)

    @extend_schema(request=None, responses=s.WorkAssignmentSerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def give_back(self, request, pk=None):
        assignment = self.get_object()
        assignment = work.assignment_return(assignment_id=assignment.pk, worker=request.user)
        return Response(s.WorkAssignmentSerializer(assignment, context={"request": request}).data)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise Http404 from exc
