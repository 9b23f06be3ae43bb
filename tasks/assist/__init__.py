"""The data closed loop (DESIGN.md "The closed loop"): a model's predictions as a calibrated
prior in the stopping rule, auto-accept with an audit, provenance on results.

- `settings`: the bundle's `assist` object, validated.
- `predictions`: predictions posted by the requester (JSONL, or Label Studio pre-annotations)
  stored per item with a model version.
- `prior`: what the per-item decision (`tasks.quality.decisions`) asks of the loop: the item's
  prior, the posterior with each worker's accuracy, the audit, and the effective overlap.
- `selectors`: the assist report (`GET /api/v1/bundles/{id}/assist/`).

This package sits below `tasks.quality` in the layers: it reads models and writes only its own
rows; whatever re-decides items after a change runs through `tasks.tasks` on commit.
"""
