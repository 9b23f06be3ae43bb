from django.urls import path
from rest_framework.routers import SimpleRouter

from . import bonuses, media, quality_events, views

router = SimpleRouter()
router.register("bundles", views.BundleViewSet, basename="bundle")
router.register("assignments", views.AssignmentReviewViewSet, basename="assignment")
router.register("bonuses", bonuses.BonusViewSet, basename="bonus")
router.register("work/bundles", views.WorkBundleViewSet, basename="work-bundle")
router.register("work/assignments", views.WorkAssignmentViewSet, basename="work-assignment")
router.register(
    "work/quality-events", quality_events.WorkerRuleEventViewSet, basename="work-quality-event"
)

urlpatterns = [
    *router.urls,
    path("media/<str:token>/", media.media_file, name="media-file"),
]
