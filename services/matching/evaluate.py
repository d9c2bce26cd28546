"""Quality of the ranking, measured on the labelled set in `evaluation/`.

`evaluate()` ranks the labs of `evaluation/catalogue.json` (40 labs, 160 entries, Italian,
English or both) for each of the 70 demands of `evaluation/demands.json` (41 Italian, 29
English; 38 of them have their best entry described in the other language only), and prints
nDCG@10 and MRR for BM25 alone, the embeddings alone, the hybrid, and the hybrid without each of
its components.

- Unit of ranking: the lab (as the API answers), whose grade for a demand is the best grade of
  its entries (the lab itself included): 3 solves the need, 2 strongly useful, 1 marginal, 0 not.
- nDCG@10 with gain 2^grade - 1; MRR of the first lab of grade >= 2.
- Fusion weights are tuned by a grid search (step 0.05 on the simplex) maximising nDCG@10 on
  the dev half (demands with odd numbers) and reported on the test half (even numbers); the
  other fold (tune on even, report on odd) is printed too, as a check that the weights are not
  an accident of one split.

The lead wires it as `clock matching evaluate`; `python -m services.matching.evaluate` runs it.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from services.matching.documents import demand_text, entry_document, make_query
from services.matching.embedding import Embedder, default_embedder
from services.matching.geo import locate
from services.matching.ranking import (
    COMPONENTS,
    SEMANTIC_ONLY,
    WEIGHTS,
    MemoryIndex,
    Query,
    Weights,
    features,
)

EVALUATION = Path(__file__).parent / "evaluation"
K = 10
RELEVANT = 2
CODE_DEMANDS_FROM = 70
"""Demands D71-D86 are written as specifications quote standards and acronyms."""
GRID_STEP = 0.05


@dataclass
class Demand:
    id: str
    language: str | None
    query: Query
    grades: dict[str, int]
    """Lab id → grade."""
    cross_language: bool


@dataclass
class Prepared:
    """Per demand: the evidence matrix of every entry, and each entry's lab."""

    demands: list[Demand]
    labs: list[str]
    lab_of_row: npt.NDArray[np.int64]
    matrices: list[npt.NDArray[np.float32]] = field(default_factory=list)
    bm25: list[npt.NDArray[np.float32]] = field(default_factory=list)


def load_index(embedder: Embedder) -> tuple[MemoryIndex, dict[str, dict[str, Any]]]:
    catalogue = json.loads((EVALUATION / "catalogue.json").read_text(encoding="utf-8"))
    documents = []
    entries: dict[str, dict[str, Any]] = {}
    for lab in catalogue["labs"]:
        common = {
            "lab_id": lab["id"],
            "centre_id": lab["centre"],
            "province": lab["province"],
            "municipality": lab["municipality"],
        }
        documents.append(
            entry_document(
                entry_id=lab["id"],
                entity="lab",
                title=lab["name"],
                description=lab["description"],
                tags=lab["tags"],
                **common,
            )
        )
        entries[lab["id"]] = lab
        for item in lab["entries"]:
            documents.append(
                entry_document(
                    entry_id=item["id"],
                    entity=item["entity"],
                    title=item["title"],
                    description=item["description"],
                    tags=item["tags"],
                    trl_min=item.get("trl_min"),
                    trl_max=item.get("trl_max"),
                    shareable=item.get("shareable"),
                    **common,
                )
            )
            entries[item["id"]] = item
    vectors = embedder.encode([d.text for d in documents])
    index = MemoryIndex(embedder.dimension)
    for document, vector in zip(documents, vectors, strict=True):
        index.upsert(document.entry, vector)
    return index, entries


def load_demands(embedder: Embedder, index: MemoryIndex) -> list[Demand]:
    raw = json.loads((EVALUATION / "demands.json").read_text(encoding="utf-8"))["demands"]
    texts = [
        demand_text(d["title"], d["description"], [n["text"] for n in d["needs"]]) for d in raw
    ]
    vectors = embedder.encode(texts)
    demands = []
    for item, text_, vector in zip(raw, texts, vectors, strict=True):
        tags: dict[str, list[str]] = {}
        for need in item["needs"]:
            for dimension, codes in need.get("tags", {}).items():
                tags.setdefault(dimension, []).extend(codes)
        firm = item["firm"]
        query = make_query(
            text_=text_,
            tags=tags,
            sector=item.get("sector"),
            trl_current=item.get("trl_current"),
            trl_target=item.get("trl_target"),
            point=locate(firm["province"], firm["municipality"]),
            preferred_provinces=item.get("preferred_provinces", []),
            vector=vector,
        )
        grades: dict[str, int] = {}
        cross = False
        for entry_id, grade in item["judgments"].items():
            entry = index.get(entry_id)
            assert entry is not None, entry_id
            grades[entry.lab_id] = max(grades.get(entry.lab_id, 0), grade)
            if grade == 3 and query.language not in entry.languages:
                cross = True
        demands.append(Demand(item["id"], query.language, query, grades, cross))
    return demands


def prepare(embedder: Embedder | None = None) -> Prepared:
    embedder = embedder or default_embedder()
    index, _ = load_index(embedder)
    demands = load_demands(embedder, index)
    labs = sorted({e.lab_id for e in index.entries()})
    lab_number = {lab: i for i, lab in enumerate(labs)}
    prepared: Prepared | None = None
    for demand in demands:
        evidence = features(index, demand.query, candidates=None)
        if prepared is None:
            rows = [lab_number[index.entry(s).lab_id] for s in evidence.slots.tolist()]
            prepared = Prepared(demands, labs, np.array(rows, dtype=np.int64))
        prepared.matrices.append(evidence.features)
        prepared.bm25.append(evidence.bm25_raw)
    assert prepared is not None
    return prepared


# -- metrics --------------------------------------------------------------------------------


def lab_scores(prepared: Prepared, entry_scores: npt.NDArray[np.float32]) -> npt.NDArray[Any]:
    """Best entry score per lab; `entry_scores` is (entries,) or (entries, settings)."""
    shape = (len(prepared.labs), *entry_scores.shape[1:])
    best = np.full(shape, -np.inf, dtype=np.float64)
    np.maximum.at(best, prepared.lab_of_row, entry_scores)
    return best


def ndcg_mrr(scores: npt.NDArray[Any], grades: npt.NDArray[np.int64]) -> tuple[Any, Any]:
    """nDCG@K and reciprocal rank for lab scores (labs,) or (labs, settings)."""
    if scores.ndim == 1:
        scores = scores[:, None]
    order = np.argsort(-np.round(scores, 6), axis=0, kind="stable")  # ties: lab id order
    ranked = grades[order]  # (labs, settings)
    discounts = 1.0 / np.log2(np.arange(2, ranked.shape[0] + 2))[:, None]
    gains = (2.0**ranked - 1.0) * discounts
    dcg = gains[:K].sum(axis=0)
    ideal_grades = np.sort(grades)[::-1][:K]
    ideal = ((2.0**ideal_grades - 1.0) / np.log2(np.arange(2, ideal_grades.shape[0] + 2))).sum()
    ndcg = dcg / ideal if ideal > 0 else np.zeros_like(dcg)
    relevant = ranked >= RELEVANT
    first = np.where(relevant.any(axis=0), relevant.argmax(axis=0), -1)
    rr = np.where(first >= 0, 1.0 / (first + 1.0), 0.0)
    return ndcg, rr


def grade_vector(prepared: Prepared, demand: Demand) -> npt.NDArray[np.int64]:
    return np.array([demand.grades.get(lab, 0) for lab in prepared.labs], dtype=np.int64)


Scorer = Callable[[int], npt.NDArray[np.float32]]


def measure(prepared: Prepared, scorer: Scorer, subset: Sequence[int]) -> tuple[float, float]:
    ndcgs, rrs = [], []
    for i in subset:
        ndcg, rr = ndcg_mrr(
            lab_scores(prepared, scorer(i)), grade_vector(prepared, prepared.demands[i])
        )
        ndcgs.append(float(ndcg[0]))
        rrs.append(float(rr[0]))
    return (sum(ndcgs) / len(ndcgs), sum(rrs) / len(rrs)) if ndcgs else (math.nan, math.nan)


def weighted(prepared: Prepared, weights: Weights) -> Scorer:
    vector = weights.normalised().vector()
    return lambda i: prepared.matrices[i] @ vector


def bm25_raw(prepared: Prepared) -> Scorer:
    return lambda i: prepared.bm25[i]


def grid(step: float = GRID_STEP) -> npt.NDArray[np.float32]:
    """Every weight vector on the simplex with the given step, (components, settings)."""
    units = round(1 / step)
    settings = [
        [c / units for c in combo]
        for combo in itertools.product(range(units + 1), repeat=len(COMPONENTS) - 1)
        if sum(combo) <= units
    ]
    full = [[*s, 1.0 - sum(s)] for s in settings]
    # order: COMPONENTS[:-1] from the product, the last component takes the rest
    return np.array(full, dtype=np.float32).T


def tune(
    prepared: Prepared,
    subset: Sequence[int],
    step: float = GRID_STEP,
    without: Sequence[str] = (),
) -> Weights:
    """The weights of the grid with the best mean nDCG@10 on `subset`, the components in
    `without` held at 0 (ties: the most weight on the semantic evidence, then grid order)."""
    candidates = grid(step)
    for component in without:
        candidates = candidates[:, candidates[COMPONENTS.index(component)] == 0]
    total = np.zeros(candidates.shape[1])
    for i in subset:
        scores = lab_scores(prepared, prepared.matrices[i] @ candidates)
        ndcg, _ = ndcg_mrr(scores, grade_vector(prepared, prepared.demands[i]))
        total += ndcg
    best = int(np.lexsort((-candidates[0], -np.round(total, 9)))[0])
    return Weights(*(round(float(w), 4) for w in candidates[:, best]))


def cross_validated(prepared: Prepared, folds: Sequence[Sequence[int]], **options: Any) -> Scorer:
    """Scores each demand with the weights tuned on the other fold(s)."""
    by_demand: dict[int, Weights] = {}
    for fold in folds:
        rest = [i for other in folds if other is not fold for i in other]
        weights = tune(prepared, rest, **options)
        for i in fold:
            by_demand[i] = weights
    return lambda i: prepared.matrices[i] @ by_demand[i].normalised().vector()


# -- the table ------------------------------------------------------------------------------


@dataclass
class Row:
    method: str
    ndcg: float
    mrr: float
    ndcg_cross: float
    mrr_cross: float
    ndcg_codes: float
    mrr_codes: float


@dataclass
class Report:
    rows: list[Row]
    tuned: Weights
    """The weights tuned on every demand (the candidate for `ranking.WEIGHTS`)."""
    in_use: Weights
    dropped: list[str]
    demands: int
    entries: int

    def table(self) -> str:
        lines = [
            "| method | nDCG@10 | MRR | nDCG@10 cross-lingual | MRR cross-lingual "
            "| nDCG@10 codes | MRR codes |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r.method} | {r.ndcg:.3f} | {r.mrr:.3f} | {r.ndcg_cross:.3f} "
                f"| {r.mrr_cross:.3f} | {r.ndcg_codes:.3f} | {r.mrr_codes:.3f} |"
            )
        return "\n".join(lines)

    def text(self) -> str:
        dropped = ", ".join(self.dropped) or "none"
        return (
            f"{self.demands} demands, {self.entries} entries. Fused rankings are 2-fold "
            "cross-validated: each demand is ranked with the weights tuned (grid, step "
            f"{GRID_STEP}) on the other half (odd / even numbers).\n\n{self.table()}\n\n"
            f"Components that do not help (cross-validated nDCG@10 no lower without them), "
            f"dropped: {dropped}.\nWeights tuned on every demand over the kept components: "
            f"{describe(self.tuned)}.\nWeights in use (ranking.WEIGHTS): {describe(self.in_use)}.\n"
        )


def describe(weights: Weights) -> str:
    return ", ".join(f"{c} {getattr(weights, c):.2f}" for c in COMPONENTS)


def evaluate(
    embedder: Embedder | None = None,
    *,
    out: Callable[[str], None] | None = print,
) -> Report:
    """Measure every method; print the table (to `out`) and return it."""
    prepared = prepare(embedder)
    demands = prepared.demands
    odd = [i for i, d in enumerate(demands) if int(d.id[1:]) % 2 == 1]
    even = [i for i, d in enumerate(demands) if int(d.id[1:]) % 2 == 0]
    folds = [odd, even]
    everyone = list(range(len(demands)))
    cross = [i for i, d in enumerate(demands) if d.cross_language]
    codes = [i for i, d in enumerate(demands) if int(d.id[1:]) > CODE_DEMANDS_FROM]

    def row(name: str, scorer: Scorer) -> Row:
        return Row(
            name,
            *measure(prepared, scorer, everyone),
            *measure(prepared, scorer, cross),
            *measure(prepared, scorer, codes),
        )

    rows = [
        row("BM25 alone", bm25_raw(prepared)),
        row("embeddings alone", weighted(prepared, SEMANTIC_ONLY)),
        row("BM25 + embeddings, 50/50", weighted(prepared, Weights(0.5, 0.5, 0, 0, 0))),
    ]
    hybrid = row("hybrid, all five components (cross-validated)", cross_validated(prepared, folds))
    rows.append(hybrid)
    dropped = []
    for component in COMPONENTS:
        ablation = row(
            f"hybrid without {component} (cross-validated)",
            cross_validated(prepared, folds, without=[component]),
        )
        rows.append(ablation)
        if component != "semantic" and ablation.ndcg >= hybrid.ndcg:
            dropped.append(component)
    if len(dropped) > 1:
        rows.append(
            row(
                "hybrid without " + " and ".join(dropped) + " (cross-validated)",
                cross_validated(prepared, folds, without=dropped),
            )
        )
    tuned = tune(prepared, everyone, without=dropped)
    rows.append(
        row(
            "hybrid in use (ranking.WEIGHTS, tuned on all: optimistic)", weighted(prepared, WEIGHTS)
        )
    )
    report = Report(rows, tuned, WEIGHTS, dropped, len(demands), int(prepared.lab_of_row.shape[0]))
    if out is not None:
        out(report.text())
    return report


if __name__ == "__main__":
    evaluate()
