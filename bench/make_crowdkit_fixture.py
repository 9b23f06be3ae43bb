"""Regenerate the crowd-kit reference fixture the aggregation tests compare against.

    .venv-bench/bin/python -m bench.make_crowdkit_fixture

Writes tests/tasks/quality/fixtures/crowdkit_reference.json: a fixed simulated crowd (the bench's
dense generator, 3,000 judgments, 600 items, 30 workers, 5 classes), and crowd-kit's
`DawidSkene(n_iter=100, tol=1e-5)` and `MajorityVote` output on it, once without and once with
gold (every 10th item's true class passed as `true_labels`). The number of EM iterations
crowd-kit ran is stored too, so the test can run the same number of textbook EM steps and expect
the same posteriors, not just the same labels. The suite reads the JSON and needs no crowd-kit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from bench.aggregation import N_CLASSES, dense_crowd

FIXTURE = Path(__file__).resolve().parent.parent / "tests/tasks/quality/fixtures"
FIXTURE = FIXTURE / "crowdkit_reference.json"


def _ds(df, n_items: int, true_labels=None) -> dict[str, object]:
    import crowdkit
    from crowdkit.aggregation import DawidSkene

    model = DawidSkene(n_iter=100, tol=1e-5)
    model.fit(df, true_labels=true_labels)
    probas = model.probas_.reindex(index=range(n_items), columns=range(N_CLASSES)).fillna(0.0)
    return {
        "crowdkit_version": crowdkit.__version__,
        "n_iter": len(model.loss_history_),
        "labels": model.labels_.reindex(range(n_items)).astype(int).tolist(),
        "posteriors": np.round(probas.to_numpy(), 8).tolist(),
    }


def main() -> int:
    import pandas as pd
    from crowdkit.aggregation import MajorityVote

    crowd = dense_crowd(3_000, seed=42)
    n_items = int(crowd.truth.size)
    df = pd.DataFrame({"task": crowd.items, "worker": crowd.workers, "label": crowd.labels})
    gold_items = np.arange(0, n_items, 10)
    true_labels = pd.Series(crowd.truth[gold_items], index=gold_items)
    mv = MajorityVote().fit_predict(df).reindex(range(n_items)).astype(int)
    payload = {
        "description": "bench.aggregation.dense_crowd(3000, seed=42) and crowd-kit's output on it",
        "n_classes": N_CLASSES,
        "items": crowd.items.tolist(),
        "workers": crowd.workers.tolist(),
        "labels": crowd.labels.tolist(),
        "truth": crowd.truth.tolist(),
        "dawid_skene": _ds(df, n_items),
        "gold": {
            str(int(i)): int(c) for i, c in zip(gold_items, crowd.truth[gold_items], strict=True)
        },  # fmt: skip
        "dawid_skene_gold": _ds(df, n_items, true_labels),
        "majority_vote_labels": mv.tolist(),
    }
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    print(f"wrote {FIXTURE} ({FIXTURE.stat().st_size} bytes); crowd-kit DS ran "
          f"{payload['dawid_skene']['n_iter']} iterations")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
