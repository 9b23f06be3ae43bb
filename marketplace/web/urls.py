"""The worker workspace and requester console (namespace `web`); money pages: money_urls."""

from django.urls import path, re_path

from . import views

app_name = "web"

urlpatterns = [
    # Worker workspace
    path("work/", views.work_list, name="work-list"),
    path("work/profile/", views.worker_profile, name="worker-profile"),
    path("work/earnings/", views.earnings, name="earnings"),
    path("work/earnings/payout/", views.payout_request, name="payout-request"),
    path("work/earnings/payout-account/", views.payout_setup, name="payout-setup"),
    path("work/earnings/payout-details/", views.payout_details, name="payout-details"),
    path("work/<int:bundle_id>/", views.work_bundle, name="work-bundle"),
    path("work/<int:bundle_id>/next/", views.work_next, name="work-next"),
    path("work/tasks/<int:assignment_id>/submit/", views.work_submit, name="work-submit"),
    path("work/tasks/<int:assignment_id>/skip/", views.work_skip, name="work-skip"),
    # Requester console
    path("bundles/", views.bundle_list, name="bundle-list"),
    path("bundles/new/", views.bundle_create, name="bundle-create"),
    path("bundles/<int:bundle_id>/", views.bundle_detail, name="bundle-detail"),
    path("bundles/<int:bundle_id>/progress/", views.bundle_progress, name="bundle-progress"),
    path("bundles/<int:bundle_id>/items/", views.bundle_upload, name="bundle-upload"),
    path("bundles/<int:bundle_id>/publish/", views.bundle_publish, name="bundle-publish"),
    path("bundles/<int:bundle_id>/review/", views.bundle_review, name="bundle-review"),
    path(
        "bundles/<int:bundle_id>/workers/<str:public_id>/bonus/",
        views.worker_bonus,
        name="worker-bonus",
    ),
    path(
        "bundles/<int:bundle_id>/workers/<str:public_id>/block/",
        views.worker_block,
        name="worker-block",
    ),
    path(
        "bundles/<int:bundle_id>/workers/<str:public_id>/unblock/",
        views.worker_unblock,
        name="worker-unblock",
    ),
    path(
        "bundles/<int:bundle_id>/rule-events/<int:event_id>/reverse/",
        views.rule_event_reverse,
        name="rule-event-reverse",
    ),
    path("bundles/<int:bundle_id>/training/", views.training_update, name="training-update"),
    path("bundles/preview-instructions/", views.instructions_preview, name="instructions-preview"),
    path("bundles/preview-task/", views.task_preview, name="task-preview"),
    re_path(
        r"^bundles/(?P<bundle_id>[0-9]+)/(?P<action>pause|resume|cancel)/$",
        views.bundle_state,
        name="bundle-state",
    ),
]
