"""Quality engine. Pure numpy, no Django: `aggregation` (majority, weighted vote, Dawid-Skene
from `dawid_skene`, Wilson intervals, the dynamic-overlap rule) over `base`'s integer arrays.
On the ORM, by job: `rules` (constants and the blocking rules), `blocking` (the one way to block
or unblock a worker), `decisions` (the per-item decision), `bundle_aggregation` (whole-bundle
results; for annotation types with `annotation_aggregation`: skills from gold and agreement),
`selectors` (reads) and `services` (the follow-up of a submission)."""
