"""The chapter "Which attack should I use?" (smoke profile, run once per session by ``smoke_book``): every attack
and every public implementation that imports is scored on every model and threat model, the recommendation
covers each threat model and budget, each public implementation is compared with advlab's, and ``run.json``."""

from __future__ import annotations

import json

import pytest

from advlab import benchmark as bm
from advlab import pipeline

TABLES = ["models", "implementations", "scores", "recommendations", "implementation_gaps", "cost"]
FIGURES = ["robust_accuracy", "optimality"]
ADVLAB_ATTACKS = {"l2": {"DDN", "ANU", "C&W-L2", "EAD", "DeepFool", "FGM", "I-FGM", "PGD"},
                  "l1": {"EAD", "FGM", "I-FGM"}, "linf": {"DeepFool", "FGM", "I-FGM", "PGD"}}


@pytest.fixture(scope="module")
def run(smoke_book):
    return smoke_book.chapter("benchmark")


def test_every_table_and_figure_is_written(run):
    for name in TABLES:
        assert (run.results / f"{name}.csv").stat().st_size > 0, name
    for name in FIGURES:
        assert (run.results / f"{name}.png").stat().st_size > 5000, name


def test_every_attack_and_available_implementation_is_scored_on_every_model(run):
    scores = run.table("scores")
    available = {name for name, problem in bm.available().items() if problem is None}
    assert set(scores.implementation) == {"advlab", bm.EARLY_ABORT} | available
    implementations = run.table("implementations")
    assert set(implementations.loc[implementations.status == "runs", "implementation"]) == {"advlab"} | available
    for (model, threat), frame in scores.groupby(["model", "threat model"]):
        norm = {name: key for key, name in bm.THREAT_NAMES.items()}[threat]
        assert ADVLAB_ATTACKS[norm] <= set(frame.loc[frame.implementation == "advlab", "attack"]), (model, threat)
        assert frame["optimality"].between(0, 1).all() and frame["success_pct"].between(0, 100).all()
        assert (frame[f"median_{norm}"].dropna() >= 0).all()
    assert scores["model"].nunique() == 4
    # the budgeted contenders keep to their budget (DeepFool and FGM stop by their own rule)
    budgeted = scores[scores.budget != "own stop"]
    advlab = budgeted[budgeted.implementation == "advlab"]
    assert (advlab.gradients <= advlab.budget.astype(int) + 1e-9).all()


def test_the_recommendation_covers_every_threat_model_and_budget(run):
    recommendations = run.table("recommendations")
    budgets = pipeline.parameters("benchmark", "smoke")["budgets"]
    assert {(r["threat model"], r["budget"]) for _, r in recommendations.iterrows()} == {
        (name, budget) for name in bm.THREAT_NAMES.values() for budget in budgets}
    assert recommendations["mean optimality"].between(0, 1).all()


def test_public_implementations_are_compared_with_advlabs(run):
    gaps = run.table("implementation_gaps")
    scores = run.table("scores")
    public = scores[~scores.implementation.isin(["advlab"])]
    compared = {(r.model, r["threat model"], r.attack, r.implementation, str(r.budget)) for _, r in gaps.iterrows()}
    for _, r in public.iterrows():
        assert (r.model, r["threat model"], r.attack, r.implementation, str(r.budget)) in compared
    allowed = {"agrees", "more successes", "fewer successes", "smaller norms", "larger norms", "norms inconclusive",
               "same norms (±5 %)", "no common success"}
    for verdict in gaps.verdict:
        assert set(verdict.split(", ")) <= allowed, verdict


def test_run_record_and_no_errors(run):
    record = json.loads((run.results / "run.json").read_text())
    assert record["chapter"] == "benchmark" and record["parameters"] == pipeline.parameters("benchmark", "smoke")
    notebook = json.loads(run.notebook.read_text())
    outputs = [o for cell in notebook["cells"] if cell["cell_type"] == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
