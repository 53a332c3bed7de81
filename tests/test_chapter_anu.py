"""The ANU chapter (smoke profile, run once per session by ``smoke_book``): every table and figure it
promises, the paper's rows beside finite reproduced values with their 95 % intervals, the ablation, the
second model and "Why our numbers differ", every claim ANU-C1..C10 once with a verdict, a rule and n,
``run.json``, and the notebook's size."""

from __future__ import annotations

import json
import math
import re

import jupytext
import numpy as np
import pandas as pd
import pytest

from advlab import pipeline, project_root
from advlab.chapter.claims import NOT_TESTED, VERDICTS

NO_IMAGENET = "not reproduced (no ImageNet data offline)"
CLAIMS = [f"ANU-C{i}" for i in range(1, 11)]
BASE = {"MNIST": "mnist-smallcnn", "CIFAR-10": "cifar10-cnn"}
TABLES = ["base_models", "anu_alpha0_is_ddn", "fig3_summary", "fig4_summary", "table1_untargeted", "table1_paired",
          "table2_targeted", "table2_paired", "gamma_bound", "timing_reduced_budgets", "adversarial_training",
          "fig5_robust_accuracy", "ablation", "second_model", "why_headroom", "why_gamma_collapse", "claims"]
FIGURES = ["idea_linear_toy", "fig3_one_image", "fig4_mean_norm", "fig5_robustness", "fig6_examples_mnist"]
CODE_LINES_BEFORE = 711  # non-blank, non-comment code lines of notebooks/anu.py before the chapter kit


@pytest.fixture(scope="module")
def run(smoke_book):
    return smoke_book.chapter("anu")


def reproduced(run, dataset: str) -> bool:
    return BASE[dataset] in run.trained


def assert_intervals(frame: pd.DataFrame, metric: str) -> None:
    """Where ``metric`` has an interval, low ≤ value ≤ high (values and bounds finite)."""
    if f"{metric} low" not in frame:
        return
    rows = frame[frame[f"{metric} low"].notna()]
    for column in (metric, f"{metric} low", f"{metric} high"):
        assert np.isfinite(rows[column].astype(float)).all(), column
    assert (rows[f"{metric} low"] <= rows[metric] + 1e-9).all() and (rows[metric] <= rows[f"{metric} high"] + 1e-9).all(), metric


def test_every_table_and_figure_is_written(run):
    for name in TABLES:
        assert (run.results / f"{name}.csv").stat().st_size > 0, name
    for name in FIGURES + (["fig6_examples_cifar10"] if reproduced(run, "CIFAR-10") else []):
        assert (run.results / f"{name}.png").stat().st_size > 5000, name


@pytest.mark.parametrize("table, rows", [("table1_untargeted", 36), ("table2_targeted", 36)])
def test_attack_tables_have_the_papers_rows_and_finite_reproduced_values(run, table, rows):
    frame = run.table(table)
    assert len(frame) == rows  # every row of the paper's table, reproduced or not
    assert list(frame.columns[:3]) == ["dataset", "attack", "budget"]
    assert (frame.note[frame.dataset == "ImageNet"] == NO_IMAGENET).all()
    assert frame["mean_l2 (here)"][frame.dataset == "ImageNet"].isna().all()
    here = frame[frame["mean_l2 (here)"].notna()]
    params = pipeline.parameters("anu", "smoke")
    budgets = params["budgets" if table == "table1_untargeted" else "targeted_budgets"]
    for dataset, key in (("MNIST", "mnist"), ("CIFAR-10", "cifar10")):
        if reproduced(run, dataset):
            ran = here[here.dataset == dataset]
            assert sorted(set(ran.budget)) == sorted(budgets[key]) and set(ran.attack) == {"DDN", "ANU"}
    for metric in ("success_pct", "mean_l2", "median_l2"):
        assert np.isfinite(here[f"{metric} (here)"]).all(), metric
        assert_intervals(here.rename(columns={f"{metric} (here)": metric}), metric)
    assert np.isfinite(here["mean_l2 (paper)"]).all() and np.isfinite(here["seconds vs DDN-100 (here)"]).all()
    assert (here["seconds vs DDN-100 (here)"][(here.attack == "DDN") & (here.budget == 100)] == 1).all()
    assert (here.gradients == here.budget).all()  # one gradient per iteration, exactly
    assert here.n.gt(0).all()
    np.testing.assert_allclose(here["mean_l2 Δ%"], (100 * (here["mean_l2 (here)"] - here["mean_l2 (paper)"])
                                                    / here["mean_l2 (paper)"]).round(1), atol=0.051)


def test_paired_comparisons_carry_the_papers_change(run):
    t1 = run.table("table1_paired")
    if reproduced(run, "MNIST"):
        mnist = t1[t1.dataset == "MNIST"].set_index("comparison")
        assert {"ANU-50 vs DDN-50", "ANU-70 vs DDN-100", "DDN-50 vs DDN-100"} <= set(mnist.index)
        assert mnist.loc["DDN-50 vs DDN-100", "mean_l2 change_pct (paper)"] == pytest.approx(100 * (1.5095 / 1.4470 - 1))
        assert mnist.loc["ANU-50 vs DDN-50", "mean_l2 change_pct (paper)"] == pytest.approx(100 * (1.4572 / 1.5095 - 1))
    for frame in (t1, run.table("table2_paired"), run.table("second_model")):
        for metric in ("mean_l2 change_pct", "median_l2 change_pct"):
            assert np.isfinite(frame[metric]).all()
            assert_intervals(frame, metric)
    assert list(run.table("second_model").comparison) == ["ANU-50 vs DDN-50", "ANU-70 vs DDN-100", "ANU-100 vs DDN-100",
                                                          "DDN-50 vs DDN-100"]


def test_anu_without_alpha_gamma_is_ddn_bit_for_bit(run):
    frame = run.table("anu_alpha0_is_ddn")
    assert set(frame.targeted) == {True, False}
    assert (frame["max |ANU − DDN|"] == 0).all() and (frame.images > 0).all()


def test_convergence_gamma_bound_ablation_and_why(run):
    fig4 = run.table("fig4_summary")
    assert list(fig4.attack) == ["DDN", "ANU", "ANU − DDN (per image)"]
    assert_intervals(fig4, "first adversarial iteration")
    bound = run.table("gamma_bound")
    assert {"untargeted", "targeted"} == set(bound.setting)
    assert bound["samples hitting the bound pct"].between(0, 100).all()
    ablation = run.table("ablation").set_index("variant")
    assert len(ablation) == 5 and ablation["change vs default_pct"].iloc[0] == 0
    assert "Algorithm 2 as printed (all three)" in ablation.index
    assert_intervals(ablation.reset_index(), "change vs DDN_pct")
    headroom = run.table("why_headroom")
    assert {"DDN-50 vs DDN-100 mean_l2 change_pct", "share of that gap ANU-50 recovers_pct",
            "paper: DDN-50 vs DDN-100 (%)"} <= set(headroom.columns)
    assert headroom.set_index("model").loc["mnist-smallcnn", "paper: DDN-50 vs DDN-100 (%)"] == pytest.approx(4.319, abs=1e-3)
    collapse = run.table("why_gamma_collapse")
    assert collapse["final gamma median"].between(0, 0.9).all() and (collapse["boundary crossings per image"] >= 0).all()


def test_timing_and_adversarial_training(run):
    timing = run.table("timing_reduced_budgets")
    assert len(timing) == 18  # 3 datasets × 2 settings × (DDN-100, ANU-reduced, ANU-100)
    measured = timing[timing["seconds vs DDN-100 (here)"].notna()]
    assert (measured.seconds > 0).all() and (measured["seconds vs DDN-100 (here)"] > 0).all()
    assert_intervals(measured.rename(columns={"seconds vs DDN-100 (here)": "seconds vs DDN-100"}), "seconds vs DDN-100")
    at = run.table("adversarial_training")
    at = at.set_index(["dataset", "internal_attack"]).sort_index()
    assert list(at.index) == [("CIFAR-10", "ANU-80"), ("CIFAR-10", "DDN-100"), ("MNIST", "ANU-70"), ("MNIST", "DDN-100")]
    np.testing.assert_allclose(at["seconds vs DDN-100 (paper)"], [36.1 / 44.2, 1, 3857.8 / 4840.4, 1])
    trained = at[at["clean_acc_pct (here)"].notna()]
    assert trained["clean_acc_pct (here)"].between(0, 100).all()
    assert_intervals(trained.rename(columns={"clean_acc_pct (here)": "clean_acc_pct"}), "clean_acc_pct")
    robust = run.table("fig5_robust_accuracy")
    assert robust.accuracy_pct.between(0, 100).all()
    assert_intervals(robust, "accuracy_pct")


def test_every_claim_once_with_a_verdict_a_rule_n_and_its_section(run):
    claims = run.table("claims")
    assert list(claims.claim) == CLAIMS
    assert set(claims.verdict) <= set(VERDICTS)
    headings = set(re.findall(r"^# ## (.+)$", (project_root() / "notebooks" / "anu.py").read_text(), re.M))
    judged = claims[claims.verdict != NOT_TESTED]
    assert judged.rule.str.len().gt(0).all() and judged.n.gt(0).all() and judged.here.str.contains(r"\(n = \d+\)").all()
    assert set(claims.section.dropna()) <= headings
    if reproduced(run, "MNIST"):
        assert set(judged.claim) == set(CLAIMS)  # nothing here is ImageNet-only
        assert claims.set_index("claim").verdict["ANU-C6"] == "holds"
    assert claims.caveat.fillna("").str.contains("ImageNet").sum() >= 5  # C1–C5 name their untested ImageNet part
    assert claims.samples_to_resolve[claims.verdict != "inconclusive at this scale"].isna().all()


def test_run_record(run):
    record = json.loads((run.results / "run.json").read_text())
    assert record["chapter"] == "anu" and record["profile"] == "smoke"
    assert record["parameters"] == pipeline.parameters("anu", "smoke")
    assert record["hardware"] and record["seconds"] > 0
    assert any(label.startswith("mnist test") for label in record["dataset_sources"])
    assert sum(record["verdicts"].values()) == len(CLAIMS)


def test_notebook_is_at_most_half_its_former_code():
    notebook = jupytext.read(project_root() / "notebooks" / "anu.py")
    code = [line for cell in notebook.cells if cell.cell_type == "code" for line in cell.source.splitlines()
            if line.strip() and not line.strip().startswith("#")]
    assert len(code) <= 0.52 * CODE_LINES_BEFORE, len(code)  # "at most about half" (issue 8)


def test_executed_notebook_has_no_errors(run):
    notebook = json.loads(run.notebook.read_text())
    outputs = [o for cell in notebook["cells"] if cell["cell_type"] == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert not [o for o in outputs if o.get("name") == "stderr" and "Warning" in "".join(o["text"])]
    assert math.isfinite(run.seconds)
