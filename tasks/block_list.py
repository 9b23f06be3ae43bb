"""A requester's block list applied to a bundle they publish (issue 15).

A requester-wide block (`tasks.fairness.blocks`) blocks the worker in every live bundle of the
requester when it is made; a bundle published later gets the flag here, at publish, before any
worker can claim in it. The flag is the one the claim path checks (`WorkerBundleStats`), so the
hot path pays nothing for block lists. A draft holds no work, so setting the flag is the whole
of what a block means here.
"""

from __future__ import annotations

from django.utils import timezone

from .models import BlockScope, Bundle, WorkerBlock, WorkerBundleStats


def requester_block_reason(reason: str) -> str:
    """What the worker reads for a requester-wide block (and what lifting it looks for)."""
    return f"Blocked from all of this requester's bundles: {reason.strip()}"


def requester_blocks_apply(bundle: Bundle) -> int:
    """Flag every worker on the requester's block list as blocked in `bundle`."""
    blocks = WorkerBlock.objects.filter(
        requester_id=bundle.requester_id, scope=BlockScope.REQUESTER, lifted_at__isnull=True
    ).values_list("worker_id", "reason")
    applied = 0
    for worker_id, reason in blocks:
        WorkerBundleStats.objects.update_or_create(
            worker_id=worker_id,
            bundle=bundle,
            defaults={
                "blocked": True,
                "blocked_reason": requester_block_reason(reason),
                "blocked_at": timezone.now(),
            },
        )
        applied += 1
    return applied
