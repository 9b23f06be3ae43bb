"""`/api/v1/work/quality-events/`: what the bundles' quality rules did to the signed-in worker
(due process: they see each action, its reason and whether it was reversed). Only their own
rows; never another worker's, never the figures that compare them with the crowd."""

from __future__ import annotations

from rest_framework import mixins, serializers, viewsets

from marketplace.permissions import IsWorker
from tasks.models import QualityRuleEvent
from tasks.selectors import rule_events_of_worker


class WorkerRuleEventSerializer(serializers.ModelSerializer):
    bundle_id = serializers.IntegerField(read_only=True)
    bundle_title = serializers.CharField(source="bundle.title", read_only=True)

    class Meta:
        model = QualityRuleEvent
        fields = [
            "id",
            "bundle_id",
            "bundle_title",
            "action",
            "reason",
            "created_at",
            "reversed_at",
        ]
        read_only_fields = fields


class WorkerRuleEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The quality actions taken on your work, newest first."""

    permission_classes = [IsWorker]
    serializer_class = WorkerRuleEventSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema, drawn without a user
            return QualityRuleEvent.objects.none()
        return rule_events_of_worker(self.request.user)
