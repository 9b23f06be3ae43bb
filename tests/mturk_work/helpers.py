"""HIT bundles as the /mturk/ API makes them: a "form" bundle, one item per HIT."""

from __future__ import annotations

from tasks import work
from tests.factories import BundleFactory, ItemFactory, RequesterFactory, publish

FORM = {"type": "form", "gold_threshold": 1.0}


def hit_bundle(questions: list[str], *, requester=None, overlap: int = 1, **extra):
    bundle = BundleFactory(
        requester=requester or RequesterFactory(),
        question=dict(FORM),
        min_overlap=overlap,
        max_overlap=overlap,
        **extra,
    )
    for xml in questions:
        ItemFactory(bundle=bundle, payload={"mturk_question": xml})
    return publish(bundle)


def claim(bundle, worker):
    return work.assignment_claim(bundle=bundle, worker=worker)
