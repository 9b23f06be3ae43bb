"""Geometry, masks, matching and the weighted votes the shape types share: hand-computed cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tasks.annotation.geometry import Canvas, box_iou, polygon_area, polygon_iou
from tasks.annotation.masks import (
    connected_parts,
    outline_loops,
    rle_area,
    rle_decode,
    rle_encode,
    simplify_ring,
)
from tasks.annotation.matching import assignment, cluster_across_workers, f1_at_iou, max_matching
from tasks.annotation.shape_votes import decision_confidence, posterior_yes, weighted_median


def test_box_iou_hand_computed():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 5, 5]])
    # Half overlap: 50 / (100 + 100 - 50) = 1/3; same box 1; apart 0; inside: 25 / 100.
    assert box_iou(a, b)[0].tolist() == pytest.approx([1 / 3, 1.0, 0.0, 0.25])


def test_rasterise_covers_pixel_centres_exactly():
    canvas = Canvas(0, 0, 20, 20)
    box = canvas.rasterise([[[2, 2], [10, 2], [10, 10], [2, 10]]])
    rows, cols = np.nonzero(box)
    assert box.sum() == 64
    assert (cols.min(), cols.max(), rows.min(), rows.max()) == (2, 9, 2, 9)
    # Centres (j + .5, i + .5) with i + j < 9 lie inside x + y < 10: 9 + 8 + ... + 1 = 45.
    assert canvas.rasterise([[[0, 0], [10, 0], [0, 10]]]).sum() == 45
    # A window elsewhere in the image: only its part of the shape.
    assert Canvas(5, 5, 10, 10).rasterise([[[0, 0], [10, 0], [10, 10], [0, 10]]]).sum() == 25
    # Several polygons: their union.
    nested = [[[0, 0], [20, 0], [20, 20], [0, 20]], [[5, 5], [15, 5], [15, 15], [5, 15]]]
    assert canvas.rasterise(nested).sum() == 400


def test_polygon_area_and_iou():
    square = [[0, 0], [10, 0], [10, 10], [0, 10]]
    assert polygon_area(square) == 100  # clockwise on screen (y down): positive
    assert polygon_area(square[::-1]) == -100
    shifted = [[5, 0], [15, 0], [15, 10], [5, 10]]
    assert polygon_iou(square, shifted) == pytest.approx(50 / 150)


def test_weighted_median_hand_computed():
    assert weighted_median([1, 2, 3], np.ones(3)) == 2
    assert weighted_median([1, 2, 3, 4], np.ones(4)) == 2.5  # exactly half: midpoint
    assert weighted_median([5, 1, 9], np.array([3, 1, 1])) == 5  # heavy member wins
    assert weighted_median([1, 2, 3], np.array([1, 0, 1])) == 2  # weight 0 takes no part: 1|3
    assert weighted_median([1, 100], np.array([0.0, 0.0])) == 50.5  # no weight: equal weights


def test_binary_posterior_is_one_coin():
    w = np.log(4.0)  # skill 0.8
    assert posterior_yes(3 * w, 3 * w) == pytest.approx(64 / 65)
    assert posterior_yes(2 * w, 3 * w) == pytest.approx(0.8)
    assert decision_confidence(w, 3 * w) == pytest.approx(0.8)  # decided "no" at 0.8


def test_assignment_is_optimal_on_every_small_matrix():
    rng = np.random.default_rng(3)
    for _ in range(200):
        n, m = (int(v) for v in rng.integers(1, 6, 2))
        cost = rng.integers(0, 10, (n, m)).astype(float)
        rows, cols = assignment(cost)
        assert len(rows) == min(n, m) == len(set(rows.tolist())) == len(set(cols.tolist()))
        if n <= m:
            best = min(sum(cost[i, p[i]] for i in range(n))
                       for p in itertools.permutations(range(m), n))  # fmt: skip
        else:
            best = min(sum(cost[p[j], j] for j in range(m))
                       for p in itertools.permutations(range(n), m))  # fmt: skip
        assert cost[rows, cols].sum() == pytest.approx(best)


def test_max_matching_prefers_more_pairs_to_a_better_pair():
    # Row 0 could take column 0 (IoU .9) but then row 1 is left out; two pairs win.
    eligible = np.array([[True, True], [True, False]])
    score = np.array([[0.9, 0.6], [0.7, 0.0]])
    assert sorted(max_matching(eligible, score)) == [(0, 1), (1, 0)]


def test_f1_at_iou_needs_same_label_and_threshold():
    iou = np.array([[0.8, 0.0], [0.0, 0.4]])
    assert f1_at_iou(iou, ["car", "car"], ["car", "car"], 0.5) == pytest.approx(0.5)
    assert f1_at_iou(iou, ["car", "car"], ["person", "car"], 0.5) == 0.0
    assert f1_at_iou(np.zeros((0, 0)), [], [], 0.5) == 1.0
    assert f1_at_iou(np.zeros((0, 2)), [], ["car", "car"], 0.5) == 0.0


def test_clusters_hold_one_shape_per_worker():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 1, 10, 11],  # one object, 3 workers
                      [0, 0, 10, 9],  # worker 0 again on the same object: a second candidate
                      [50, 50, 60, 60]])  # fmt: skip
    owners = [0, 1, 2, 0, 1]
    clusters = cluster_across_workers(box_iou(boxes, boxes), owners, 0.5)
    assert len(clusters) == 3
    assert [4] in clusters
    big = next(c for c in clusters if len(c) == 3)
    assert sorted(owners[i] for i in big) == [0, 1, 2]


def test_connected_parts_are_four_connected():
    mask = np.array([[1, 1, 0, 0],
                     [1, 0, 0, 0],
                     [0, 1, 1, 0],
                     [0, 0, 0, 1]], dtype=bool)  # fmt: skip
    labels, n = connected_parts(mask)
    assert n == 3  # the corner-touching pixels are separate parts
    assert labels[0, 0] == labels[0, 1] == labels[1, 0]
    assert labels[2, 1] == labels[2, 2] != labels[0, 0]
    assert labels[3, 3] not in (0, labels[0, 0], labels[2, 1])


def test_outline_of_a_part_gives_the_part_back():
    mask = np.zeros((8, 9), dtype=bool)
    mask[1:5, 2:7] = True
    mask[5:7, 2:4] = True  # an L shape
    loops = outline_loops(mask)
    assert len(loops) == 1
    ring = loops[0]
    assert polygon_area(ring.tolist()) == mask.sum() == 24
    assert sorted(map(tuple, ring.tolist())) == sorted(
        [(2, 1), (7, 1), (7, 5), (4, 5), (4, 7), (2, 7)]
    )
    assert (Canvas(0, 0, 9, 8).rasterise([ring.tolist()]) == mask).all()


def test_outline_of_a_ring_has_a_hole_loop():
    mask = np.ones((5, 5), dtype=bool)
    mask[2, 2] = False
    areas = sorted(polygon_area(loop.tolist()) for loop in outline_loops(mask))
    assert areas == [-1, 25]  # the hole runs the other way


def test_simplify_collapses_a_staircase_and_keeps_corners():
    stairs = [[0, 0], [1, 0], [1, 1], [2, 1], [2, 2], [3, 2], [3, 3], [0, 3]]
    simple = simplify_ring(np.array(stairs), tolerance=1.0)
    assert len(simple) < len(stairs)
    assert [0, 0] in simple.tolist()
    assert [0, 3] in simple.tolist()


def test_rle_hand_computed_and_round_trip():
    # Column-major: column 0 is (0, 1), column 1 is (1, 1): one 0 then three 1s.
    mask = np.array([[0, 1], [1, 1]], dtype=bool)
    rle = rle_encode(mask)
    assert rle == {"size": [2, 2], "counts": "13"}
    assert (rle_decode(rle) == mask).all()
    assert (rle_decode({"size": [2, 2], "counts": [1, 3]}) == mask).all()
    rng = np.random.default_rng(0)
    for _ in range(30):
        m = rng.random((37, 23)) < rng.uniform(0.05, 0.95)
        m[:, :5] = False  # long runs: counts well over 31, multi-character codes
        r = rle_encode(m)
        assert (rle_decode(r) == m).all()
        assert rle_area(r) == m.sum()


def test_rle_of_a_window_placed_in_the_image():
    crop = np.array([[1, 1, 0], [0, 1, 1]], dtype=bool)
    rle = rle_encode(crop, offset=(4, 3), size=(10, 12))
    full = np.zeros((10, 12), dtype=bool)
    full[3:5, 4:7] = crop
    assert rle["size"] == [10, 12]
    assert (rle_decode(rle) == full).all()
    assert rle == rle_encode(full)
    with pytest.raises(ValueError, match="does not fit"):
        rle_encode(crop, offset=(11, 0), size=(10, 12))


def test_every_aggregate_is_plain_json():
    """Results rows store the label as JSON: no numpy numbers may leak into it."""
    import json

    from tasks.annotation import bounding_box, pairwise, polygon, text_spans

    cases = [
        (bounding_box.TYPE, {"type": "bounding_box", "labels": ["a"]},
         {"boxes": [{"label": "a", "x": 1.5, "y": 2, "w": 10, "h": 10}]}, {}),
        (polygon.TYPE, {"type": "polygon", "labels": ["a"]},
         {"polygons": [{"label": "a", "points": [[1, 1], [9, 1], [5, 8.5]]}]}, {}),
        (text_spans.TYPE, {"type": "text_spans", "labels": ["a"]},
         {"spans": [{"start": 0, "end": 3, "label": "a"}]}, {"text": "abc def"}),
        (pairwise.TYPE, {"type": "pairwise"}, {"choice": "right"}, {}),
    ]  # fmt: skip
    for kind, raw_question, raw_answer, payload in cases:
        question = kind.question(raw_question)
        context = kind.context(question, payload)
        answer = kind.answer(question, raw_answer, context)
        agg = kind.aggregate(question, [answer, answer], [0.9, 0.7], context)
        json.dumps({"label": agg.label, "agreement": agg.agreement}, allow_nan=False)
        assert type(agg.confidence) is float
        assert all(type(a) is float for a in agg.agreement)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools' numpy 2 notice
def test_rle_matches_pycocotools():
    """Our COCO RLE is byte for byte the reference implementation's (where it is installed)."""
    coco = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(1)
    for _ in range(20):
        m = rng.random((29, 41)) < rng.uniform(0.05, 0.95)
        m[:, rng.integers(0, 41) :] = False  # a long run of zeros somewhere
        ours = rle_encode(m)
        theirs = coco.encode(np.asfortranarray(m.astype(np.uint8)))
        assert ours["counts"] == theirs["counts"].decode()
        assert ours["size"] == list(theirs["size"])
        assert (coco.decode({"size": ours["size"], "counts": ours["counts"].encode()}) == m).all()
        assert rle_area(ours) == int(coco.area(theirs))
