"""The data closed loop against fixed and dynamic overlap, through the product's own services.

    python -m bench.closed_loop [--digits 400] [--text 300] [--workers 40] [--seed 0]

Two offline data sets: scikit-learn's bundled `digits` (8x8 pixels as the payload, 10 classes)
and a synthetic two-class review set made here from word lists (offline by construction; a
weak text signal, like short reviews). A simulated crowd of mixed skill (70% good 0.85-0.90,
20% mediocre 0.55-0.65, 5% uniform spammers, 5% constant spammers; as in bench/aggregation.py)
works each bundle through `tasks.work.assignment_claim` and `tasks.services.assignment_submit`
(the stopping rule, the quality follow-up, retraining and the audit all run as in production,
Celery eager) on a scratch SQLite database. Three strategies per data set:

* fixed overlap 3, majority vote (`bundle_aggregate(method="majority_vote")`);
* dynamic overlap (min 2, max 5, target 0.95) with Dawid-Skene at the end;
* the closed loop: the same bundle with `assist` (built-in "features" / "text" model,
  `min_overlap` 0, auto-accept, audit 5%, retraining every 100 labels).

Then the loop on digits again with `show_prelabels`: workers see the model's suggestion through
the product (`assignment_prelabel`, what the API task carries) and take it instead of judging
with a probability by skill (ANCHORING; taking it is faster). The effect on accuracy, judgments
and time is printed (measured; no target).

Then a sabotage run: the closed loop on digits where, halfway, the requester posts confidently
wrong predictions; `audit_disagreement_detected` passes when the audit switches that version
off before 2% of the items are mislabelled by the model (the verdict is the version's: a later
built-in version that passes its held-out check may turn the loop back on, under a fresh audit).

The text set's signal is weak by construction: each of its 2 signal words is flipped with
probability 0.33, so no model can be right more than about 67% of the time nor sure beyond
about 0.80 on any review, and nothing on it is ever accepted by the model alone.

TARGETs: closed_loop_judgment_share (loop's judgments over fixed 3's, <= 0.40),
closed_loop_accuracy_delta (pp against fixed 3 majority vote, >= 0), audit_disagreement_detected.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from typing import Any

import numpy as np

from bench.common import print_table, report_target

WORDS = {
    0: ["awful", "bad", "poor", "dull", "boring", "broken", "refund", "waste", "slow", "ugly"],
    1: ["great", "lovely", "superb", "fine", "fun", "solid", "fast", "neat", "clever", "smooth"],
}
NEUTRAL = ["the", "a", "it", "this", "product", "day", "item", "thing", "one", "store"]


def setup() -> None:
    path = os.path.join(tempfile.mkdtemp(prefix="cm_closed_loop_"), "bench.sqlite3")
    os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    os.environ.pop("CELERY_BROKER_URL", None)
    import logging

    import django
    from django.core.management import call_command

    django.setup()
    logging.getLogger("celery").setLevel(logging.WARNING)  # one line per eager task otherwise
    call_command("migrate", verbosity=0, interactive=False)


def digits_set(n: int, rng: np.random.Generator) -> tuple[list[dict], np.ndarray, int]:
    from sklearn.datasets import load_digits

    data = load_digits()
    pick = rng.permutation(len(data.target))[:n]
    payloads = [{"pixels": [float(v) for v in data.data[i]]} for i in pick]
    return payloads, data.target[pick].astype(int), 10


def text_set(n: int, rng: np.random.Generator) -> tuple[list[dict], np.ndarray, int]:
    truth = rng.integers(0, 2, n)
    payloads = []
    for label in truth:
        # 2 signal words (one flipped a third of the time) among 6 neutral ones: a weak signal.
        signal = [
            str(rng.choice(WORDS[int(label) if rng.random() > 0.33 else 1 - int(label)]))
            for _ in range(2)
        ]
        words = signal + [str(w) for w in rng.choice(NEUTRAL, 6)]
        payloads.append({"text": " ".join(rng.permutation(words))})
    return payloads, truth, 2


def crowd(n_workers: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Confusion matrices (n_workers, k, k): rows are P(answer | truth)."""
    kinds = rng.choice(4, size=n_workers, p=[0.7, 0.2, 0.05, 0.05])
    acc = np.where(
        kinds == 0, rng.uniform(0.85, 0.90, n_workers), rng.uniform(0.55, 0.65, n_workers)
    )
    conf = np.empty((n_workers, k, k))
    for w in range(n_workers):
        conf[w] = (1 - acc[w]) / (k - 1)
        np.fill_diagonal(conf[w], acc[w])
        if kinds[w] == 2:
            conf[w] = 1.0 / k
        elif kinds[w] == 3:
            conf[w] = 0.0
            conf[w][:, rng.integers(0, k)] = 1.0
    return conf


class World:
    """Users and money for one run."""

    def __init__(self, n_workers: int, seed: int) -> None:
        from accounts.models import RequesterProfile, User, WorkerProfile
        from payments.services import balance_credit

        tag = f"{seed}-{time.monotonic_ns()}"
        self.requester = User.objects.create_user(email=f"req-{tag}@bench.test", password=None)
        RequesterProfile.objects.create(user=self.requester)
        balance_credit(requester=self.requester, amount_minor=10**10, currency="usd",
                       reference=f"bench-{tag}", by=None)  # fmt: skip
        self.workers = []
        for w in range(n_workers):
            user = User.objects.create_user(email=f"w{w}-{tag}@bench.test", password=None)
            WorkerProfile.objects.create(user=user, country="US")
            self.workers.append(user)


#: Simulated anchoring: how often a worker takes a shown pre-label instead of judging, by
#: skill (good, mediocre, spammer), and how long a judgment takes (seconds: lognormal around
#: BASE_SECONDS; taking the suggestion costs TAKEN_TIME of it).
ANCHORING = (0.2, 0.5, 0.9)
BASE_SECONDS, TAKEN_TIME = 8.0, 0.6


def answer_of(w: int, t: int, conf: np.ndarray, rng: np.random.Generator,
              shown: Any) -> tuple[int, float]:  # fmt: skip
    """(answer, simulated seconds) of worker `w` on an item of true class `t`, given the
    pre-label the product showed (None or `{"label": ...}`)."""
    seconds = float(rng.lognormal(np.log(BASE_SECONDS), 0.5))
    if shown is not None:
        skill = float(np.mean(np.diag(conf[w])))
        anchor = ANCHORING[0] if skill >= 0.8 else ANCHORING[1] if skill >= 0.5 else ANCHORING[2]
        if rng.random() < anchor:
            return int(shown["label"]), seconds * TAKEN_TIME
    return int(rng.choice(conf.shape[1], p=conf[w, t])), seconds


def run(
    world: World, payloads: list[dict], truth: np.ndarray, k: int, conf: np.ndarray,
    strategy: str, rng: np.random.Generator, model: str, sabotage: bool = False,
    prelabels: bool = False,
) -> dict[str, Any]:  # fmt: skip
    from tasks import services, work
    from tasks.assist.predictions import predictions_post
    from tasks.assist.selectors import assignment_prelabel
    from tasks.models import Assignment, AssistModelVersion, Bundle, ItemResult
    from tasks.quality.bundle_aggregation import bundle_aggregate
    from tasks.work.standing import NoTasksAvailable

    question = {"type": "single_choice",
                "choices": [{"value": str(c), "label": str(c)} for c in range(k)]}  # fmt: skip
    data: dict[str, Any] = {"title": strategy, "question": question, "reward_minor": 5}
    if strategy == "fixed3":
        data.update(min_overlap=3, max_overlap=3)
    else:
        data.update(min_overlap=2, max_overlap=5, target_confidence=0.95)
    if strategy == "loop":
        data.update(min_overlap=0, assist={"model": model, "auto_accept": True,
                                            "audit_rate": 0.05, "retrain_every": 100,
                                            "show_prelabels": prelabels})  # fmt: skip
    bundle = services.bundle_create(requester=world.requester, data=data)
    body = "\n".join(
        json.dumps({"external_id": str(i), "payload": p}) for i, p in enumerate(payloads)
    )
    services.bundle_add_items(bundle=bundle, by=world.requester, source=io.BytesIO(body.encode()),
                              content_type="application/x-ndjson", filename=None)  # fmt: skip
    bundle = services.bundle_publish(bundle=bundle, by=world.requester)
    ext = dict(bundle.items.values_list("id", "external_id"))
    activity = rng.lognormal(0, 0.7, len(world.workers))
    activity /= activity.sum()
    misses, sabotaged, started, spent = 0, False, time.monotonic(), 0.0
    sabotaged_version = None
    n = len(payloads)
    while misses < 4 * len(world.workers):
        if sabotage and not sabotaged and bundle.items.filter(state="complete").count() >= n // 2:
            wrong = [{"external_id": str(i), "label": str((truth[i] + 1) % k), "confidence": 0.99}
                     for i in range(n)]  # fmt: skip
            predictions_post(bundle=bundle, by=world.requester,
                             lines=[json.dumps(x) for x in wrong])  # fmt: skip
            sabotaged = True
            sabotaged_version = (
                AssistModelVersion.objects.filter(bundle=bundle).latest("version").version
            )
        w = int(rng.choice(len(world.workers), p=activity))
        try:
            assignment = work.assignment_claim(bundle=bundle, worker=world.workers[w])
        except NoTasksAvailable:
            misses += 1
            continue
        except Exception:  # noqa: BLE001 - a blocked or unqualified worker: try another one
            misses += 1
            continue
        misses = 0
        t = int(truth[int(ext[assignment.item_id])])
        shown = assignment_prelabel(assignment) if prelabels else None  # what the API shows
        answer, seconds = answer_of(w, t, conf, rng, shown)
        spent += seconds
        services.assignment_submit(assignment_id=assignment.pk, worker=world.workers[w],
                                   answer=str(answer))  # fmt: skip
    method = "majority_vote" if strategy == "fixed3" else "dawid_skene"
    bundle_aggregate(bundle_id=bundle.pk, method=method)
    results = {ext[r.item_id]: r for r in ItemResult.objects.filter(item__bundle=bundle)}
    labels = np.array([int(results[str(i)].label) if str(i) in results else -1 for i in range(n)])
    judgments = Assignment.objects.filter(
        bundle=bundle, status__in=("submitted", "approved")
    ).count()
    out = {"accuracy": float((labels == truth).mean()), "judgments": judgments / n,
           "seconds": time.monotonic() - started,
           "worker_seconds": spent / max(judgments, 1)}  # fmt: skip
    if strategy == "loop":
        bundle = Bundle.objects.get(pk=bundle.pk)
        prov = [results[str(i)].provenance if str(i) in results else "-" for i in range(n)]
        out["model_only"] = prov.count("model") / n
        status = bundle.assist_status or {}
        out["model_off"] = bool(status.get("model_off"))
        # The audit's verdict is per version: a later built-in version may have resumed.
        out["switched_off"] = list(status.get("switched_off_versions", []))
        out["sabotaged_version"] = sabotaged_version if sabotaged else None
        out["versions"] = AssistModelVersion.objects.filter(bundle=bundle).count()
        bad_model = [str(i) for i in range(n) if str(i) in results and results[str(i)].provenance
                     in ("model", "model+human") and labels[i] != truth[i]]  # fmt: skip
        out["model_mislabelled"] = len(bad_model) / n
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--digits", type=int, default=400)
    parser.add_argument("--text", type=int, default=300)
    parser.add_argument("--workers", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0)
    args, _ = parser.parse_known_args(argv)  # make bench passes every bench the same args
    setup()
    rows, ok = [], True
    fixed_j = loop_j = 0.0
    deltas = []
    for name, maker, size, model in (
        ("digits", digits_set, args.digits, "features"),
        ("text", text_set, args.text, "text"),
    ):
        size = max(60, int(size * args.scale))
        rng = np.random.default_rng(args.seed)
        payloads, truth, k = maker(size, rng)
        conf = crowd(args.workers, k, np.random.default_rng(args.seed + 1))
        figures = {}
        for strategy in ("fixed3", "dynamic_ds", "loop"):
            world = World(args.workers, args.seed)
            figures[strategy] = run(world, payloads, truth, k, conf, strategy,
                                    np.random.default_rng(args.seed + 2), model)  # fmt: skip
            f = figures[strategy]
            rows.append([name, strategy, f"{f['accuracy']:.4f}", f"{f['judgments']:.2f}",
                         f"{f.get('model_only', 0):.2f}", f"{f['seconds']:.1f}"])  # fmt: skip
        if name == "digits":
            plain = figures["loop"]
            shown = run(World(args.workers, args.seed), payloads, truth, k, conf, "loop",
                        np.random.default_rng(args.seed + 2), model, prelabels=True)  # fmt: skip
        fixed_j += figures["fixed3"]["judgments"] * size
        loop_j += figures["loop"]["judgments"] * size
        deltas.append(100 * (figures["loop"]["accuracy"] - figures["fixed3"]["accuracy"]))
    print_table(["data", "strategy", "accuracy", "judgments/item", "model only", "s"], rows)
    ok &= report_target("closed_loop_judgment_share", loop_j / fixed_j, "<=", 0.40)
    ok &= report_target("closed_loop_accuracy_delta", min(deltas), ">=", 0)
    # Pre-labels shown to workers (simulated anchoring, ANCHORING): measured, no target.
    print(f"prelabels (digits, loop): accuracy {shown['accuracy']:.4f} vs {plain['accuracy']:.4f} "
          f"hidden ({100 * (shown['accuracy'] - plain['accuracy']):+.2f} pp), judgments/item "
          f"{shown['judgments']:.2f} vs {plain['judgments']:.2f}, simulated seconds per judgment "
          f"{shown['worker_seconds']:.2f} vs {plain['worker_seconds']:.2f}")  # fmt: skip
    rng = np.random.default_rng(args.seed)
    size = max(60, int(args.digits * args.scale))
    payloads, truth, k = digits_set(size, rng)
    conf = crowd(args.workers, k, np.random.default_rng(args.seed + 1))
    sab = run(World(args.workers, args.seed + 9), payloads, truth, k, conf, "loop",
              np.random.default_rng(args.seed + 2), "features", sabotage=True)  # fmt: skip
    caught = sab["sabotaged_version"] in sab["switched_off"]
    print(f"sabotage: wrong version {sab['sabotaged_version']} switched off {caught} (versions "
          f"switched off {sab['switched_off']} of {sab['versions']}; model off at the end "
          f"{sab['model_off']}), mislabelled by the model {sab['model_mislabelled']:.4f}, "
          f"accuracy {sab['accuracy']:.4f}")  # fmt: skip
    detected = caught and sab["model_mislabelled"] < 0.02
    ok &= report_target("audit_disagreement_detected", float(detected), ">=", 1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
