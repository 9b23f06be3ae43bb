"""Pages of the worker workspace, the requester console and the money pages.

Thin by design: each view parses a form, calls one service or selector, and renders. htmx
requests (the task panel, the progress bar) get a fragment; everything else gets a full page,
so every action also works without JavaScript."""

from .bonus import worker_bonus
from .console import (
    bundle_create,
    bundle_detail,
    bundle_list,
    bundle_progress,
    bundle_publish,
    bundle_state,
    bundle_upload,
    instructions_preview,
    worker_block,
    worker_unblock,
)
from .hits import hit_frame, hit_preview_frame
from .messages import inbox, requester_message, thread_page, worker_ask
from .money import (
    balance,
    balance_test_funds,
    earnings,
    payout_details,
    payout_request,
    payout_setup,
)
from .preview import task_preview
from .review import bundle_review
from .rule_events import rule_event_reverse
from .training import training_update
from .work import (
    work_bundle,
    work_list,
    work_next,
    work_preview,
    work_skip,
    work_submit,
    worker_profile,
)

__all__ = [
    "rule_event_reverse",
    "training_update",
    "balance",
    "balance_test_funds",
    "bundle_create",
    "bundle_detail",
    "bundle_list",
    "bundle_progress",
    "bundle_publish",
    "bundle_review",
    "bundle_state",
    "bundle_upload",
    "earnings",
    "inbox",
    "hit_frame",
    "hit_preview_frame",
    "instructions_preview",
    "payout_details",
    "payout_request",
    "payout_setup",
    "requester_message",
    "task_preview",
    "thread_page",
    "work_bundle",
    "worker_ask",
    "work_list",
    "work_next",
    "work_preview",
    "work_skip",
    "work_submit",
    "worker_block",
    "worker_bonus",
    "worker_profile",
    "worker_unblock",
]
