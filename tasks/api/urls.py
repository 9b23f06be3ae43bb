from django.urls import path
from rest_framework.routers import SimpleRouter

from . import bonuses, fairness, media, messages, quality_events, sandbox, views

router = SimpleRouter()
router.register("bundles", views.BundleViewSet, basename="bundle")
router.register("assignments", views.AssignmentReviewViewSet, basename="assignment")
router.register("bonuses", bonuses.BonusViewSet, basename="bonus")
router.register("threads", messages.ThreadViewSet, basename="thread")
router.register("work/bundles", views.WorkBundleViewSet, basename="work-bundle")
router.register("work/assignments", views.WorkAssignmentViewSet, basename="work-assignment")
router.register("appeals", fairness.AppealViewSet, basename="appeal")
router.register("blocks", fairness.BlockViewSet, basename="block")
router.register("reports", fairness.ReportViewSet, basename="report")
router.register(
    "work/quality-events", quality_events.WorkerRuleEventViewSet, basename="work-quality-event"
)

urlpatterns = [
    *router.urls,
    path("media/<str:token>/", media.media_file, name="media-file"),
    path("sandbox/testers/", sandbox.SandboxTestersView.as_view(), name="sandbox-testers"),
    path(
        "sandbox/testers/remove/",
        sandbox.SandboxTesterRemoveView.as_view(),
        name="sandbox-tester-remove",
    ),
    path("bundles/<int:pk>/pay-floor/", fairness.PayFloorView.as_view(), name="bundle-pay-floor"),
    path("work/pay/", fairness.WorkPayView.as_view(), name="work-pay"),
]
