"""The labelled evaluation set is well formed, and the metrics are right."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np

from services.matching.evaluate import EVALUATION, grid, ndcg_mrr


def test_the_set_is_big_enough_and_its_judgments_point_at_real_entries() -> None:
    catalogue = json.loads((EVALUATION / "catalogue.json").read_text())
    demands = json.loads((EVALUATION / "demands.json").read_text())["demands"]
    ids = {lab["id"] for lab in catalogue["labs"]} | {
        e["id"] for lab in catalogue["labs"] for e in lab["entries"]
    }
    assert len(ids) >= 150 and len(demands) >= 60
    assert Counter(d["language"] for d in demands).keys() == {"it", "en"}
    for demand in demands:
        assert demand["judgments"] and set(demand["judgments"]) <= ids, demand["id"]
        assert set(demand["judgments"].values()) <= {1, 2, 3}
        assert 3 in demand["judgments"].values(), demand["id"]
    languages = Counter(
        frozenset((e.get("title") or {}).keys())
        for lab in catalogue["labs"]
        for e in [lab, *lab["entries"]]
        if "title" in e or "name" in e
    )
    assert len(languages) >= 2


def test_ndcg_and_mrr() -> None:
    grades = np.array([0, 3, 1, 0])
    perfect, rr = ndcg_mrr(np.array([0.1, 0.9, 0.5, 0.0]), grades)
    assert perfect[0] == 1.0 and rr[0] == 1.0
    worse, rr = ndcg_mrr(np.array([0.9, 0.5, 0.6, 0.0]), grades)
    assert 0 < worse[0] < 1 and rr[0] == 1 / 3


def test_the_grid_covers_the_simplex() -> None:
    candidates = grid(0.25)
    assert candidates.shape[0] == 5
    assert np.allclose(candidates.sum(axis=0), 1.0) and (candidates >= -1e-6).all()
