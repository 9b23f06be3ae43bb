"""The worker workspace and requester console (namespace `web`); money pages: money_urls."""

from django.urls import path, re_path

from . import views
from .views import fairness

app_name = "web"

urlpatterns = [
    # Worker workspace
    path("work/", views.work_list, name="work-list"),
    path("work/profile/", views.worker_profile, name="worker-profile"),
    path("work/earnings/", views.earnings, name="earnings"),
    path("work/earnings/payout/", views.payout_request, name="payout-request"),
    path("work/earnings/payout-account/", views.payout_setup, name="payout-setup"),
    path("work/earnings/payout-details/", views.payout_details, name="payout-details"),
    path("work/fair/", fairness.worker_fairness, name="worker-fairness"),
    path(
        "work/tasks/<int:assignment_id>/appeal/", fairness.appeal_rejection, name="appeal-rejection"
    ),
    path("work/blocks/<int:block_id>/appeal/", fairness.appeal_block, name="appeal-block"),
    path("work/<int:bundle_id>/report/", fairness.report_bundle, name="report-bundle"),
    path("work/<int:bundle_id>/", views.work_bundle, name="work-bundle"),
    path("work/<int:bundle_id>/next/", views.work_next, name="work-next"),
    path("work/tasks/<int:assignment_id>/submit/", views.work_submit, name="work-submit"),
    path("work/tasks/<int:assignment_id>/skip/", views.work_skip, name="work-skip"),
    path("work/<int:bundle_id>/preview/", views.work_preview, name="work-preview"),
    path("work/<int:bundle_id>/ask/", views.worker_ask, name="worker-ask"),
    # Messages (both roles)
    path("messages/", views.inbox, name="inbox"),
    path("messages/<int:thread_id>/", views.thread_page, name="message-thread"),
    path("work/tasks/<int:assignment_id>/hit/", views.hit_frame, name="hit-frame"),
    path("work/<int:bundle_id>/preview/hit/", views.hit_preview_frame, name="hit-preview-frame"),
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
        "bundles/<int:bundle_id>/workers/<str:public_id>/message/",
        views.requester_message,
        name="requester-message",
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
    path("appeals/", fairness.requester_fairness, name="requester-fairness"),
    path("appeals/<int:appeal_id>/answer/", fairness.appeal_answer, name="appeal-answer"),
    path("blocks/", fairness.block_list_add, name="block-list-add"),
    path("blocks/<int:block_id>/lift/", fairness.block_lift, name="block-lift"),
    path("bundles/<int:bundle_id>/pay-floor/", fairness.bundle_pay_floor, name="bundle-pay-floor"),
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
