"""The Convex chapter (smoke profile, run once per session by ``smoke_book``): the theory checks with their
gaps, Fig. 1, Fig. 2 beside the authors' result files, the box effect, the per-ε orderings, Table I beside
the paper, every claim CONVEX-C1..C12 once with a verdict, a rule and n, and ``run.json``."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from advlab import pipeline, project_root
from advlab.chapter.claims import HOLDS, NOT_TESTED, VERDICTS
from advlab.reference import paper_figure

CLAIMS = [f"CONVEX-C{i}" for i in range(1, 13)]
TABLES = ["theory_propositions", "theory_special_cases", "theory_regression", "theory_regression_linf", "attack_costs",
          "fig2_table", "box_effect", "orderings", "table1", "claims"]
FIGURES = ["theory_proposition1_linear", "fig1_mnist", "fig1_cifar10", "fig2", "fig2_box", "bound_vs_deepfool"]


@pytest.fixture(scope="module")
def run(smoke_book):
    return smoke_book.chapter("convex")


def test_every_table_and_figure_is_written(run):
    for name in TABLES:
        assert (run.results / f"{name}.csv").stat().st_size > 0, name
    for name in FIGURES:
        assert (run.results / f"{name}.png").stat().st_size > 5000, name


def test_the_theory_checks_find_the_closed_forms_optimal(run):
    """Closed forms against cvxpy: gaps at the solvers' tolerance; float64 identities to rounding; the SDP
    relaxation bounds the brute-force optimum from above and its rounding from below."""
    theory = run.table("theory_propositions")
    assert set(theory.p) == {"1", "2", "∞"}
    assert (theory.filter(like="max rel. gap") < 1e-6).all().all()
    assert (theory["below the bound that fool"] == 0).all() and (theory["perturbations tried"] > 0).all()
    special = run.table("theory_special_cases")
    assert list(special.claim) == ["CONVEX-C1", "CONVEX-C4", "CONVEX-C4", "CONVEX-C5"]
    assert (special["max abs difference"] <= special.tolerance).all()
    assert special["max abs difference"].iloc[-1] < 1e-12 and special["max abs difference"].iloc[0] == 0
    sdp = run.table("theory_regression_linf")
    assert (sdp["SDP rounding"] <= sdp["optimum (brute force)"] * (1 + 1e-9)).all()
    assert (sdp["optimum (brute force)"] <= sdp["SDP upper bound"] * (1 + 1e-6)).all()
    assert (sdp["bound / optimum"] <= np.sqrt(np.pi / 2) + 1e-6).all()  # Nesterov's π/2 theorem
    assert (run.table("theory_regression")["best searched / closed form"] <= 1 + 1e-9).all()


def test_fig2_keeps_the_authors_files_beside_each_point(run):
    frame = run.table("fig2_table")
    csv = paper_figure("convex", "Fig2")["repository_v1_csv_fraction"]["values"]
    fcnn = frame[(frame.model == "FCNN") & (frame.method == "Alg1")].sort_values("eps")
    assert len(fcnn) == 10 and np.allclose(fcnn["paper (%)"], 100 * np.array(csv["FCNN"]["Alg1"]))
    assert (fcnn["paper source"] == "CSV").all()
    assert frame.loc[(frame.model == "LeNet-5") & (frame.method == "Alg1-10"), "paper source"].eq("figure").all()
    assert frame.loc[frame.method == "PGD", "paper (%)"].isna().all()
    measured = frame.dropna(subset=["fooled_pct low"])
    assert ((measured["fooled_pct low"] <= measured["fooled_pct"] + 1e-9) & (measured["fooled_pct"] <= measured["fooled_pct high"] + 1e-9)).all()
    np.testing.assert_allclose(frame["Δ pp"].dropna(), (frame["fooled_pct"] - frame["paper (%)"]).dropna(), atol=0.06)
    eps = frame[frame.model == "LeNet-5"].eps.unique()
    np.testing.assert_allclose(eps, paper_figure("convex", "Fig2")["eps_grid"]["LeNet-5"], atol=1e-5)


def test_table1_and_orderings_carry_intervals(run):
    table = run.table("table1").set_index("classifier")
    assert {"FCNN", "LeNet-5", "CNN (stand-in)"} <= set(table.index)
    assert table.loc["FCNN", "ε99 (files)"] == pytest.approx(0.076359)
    assert np.isnan(table.loc["CNN (stand-in)", "ρ̂2 (paper)"])
    for measure in ("rho1", "rho2", "eps99"):
        assert (table[f"{measure} low"] <= table[measure] + 1e-12).all() and (table[measure] > 0).all()
    orderings = run.table("orderings")
    assert set(orderings.comparison) == {"Alg1-5 − DeepFool", "Alg1-10 − DeepFool", "Alg1 − FGSM", "Alg2 − FGSM"}
    assert len(orderings) == 4 * 10 * 3


def test_claims_are_judged_with_rules(run):
    claims = run.table("claims").set_index("claim")
    assert list(claims.index) == CLAIMS and set(claims.verdict) <= set(VERDICTS)
    assert (claims.verdict[[f"CONVEX-C{i}" for i in range(1, 7)]] == HOLDS).all()  # exact computations
    judged = claims[claims.verdict != NOT_TESTED]
    assert len(judged) == len(CLAIMS) and judged.rule.str.len().gt(0).all() and judged.n.gt(0).all()
    assert claims.caveat.fillna("").str.contains("stand-in").sum() >= 4
    headings = set(re.findall(r"^# ## (.+)$", (project_root() / "notebooks" / "convex.py").read_text(), re.M))
    assert set(claims.section.dropna()) <= headings


def test_run_record_and_no_errors(run):
    record = json.loads((run.results / "run.json").read_text())
    assert record["chapter"] == "convex" and record["parameters"] == pipeline.parameters("convex", "smoke")
    assert sum(record["verdicts"].values()) == len(CLAIMS)
    notebook = json.loads(run.notebook.read_text())
    outputs = [o for cell in notebook["cells"] if cell["cell_type"] == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
