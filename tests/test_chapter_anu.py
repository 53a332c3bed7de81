"""The ANU chapter runs end to end (smoke profile) and saves the tables, figures and claim verdicts it promises."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from advlab import pipeline, zoo
from advlab.report import DOES_NOT_HOLD, HOLDS, HOLDS_QUALITATIVELY
from advlab.results import results_dir

NO_IMAGENET = "not reproduced (no ImageNet data offline)"
CLAIMS = [f"ANU-C{i}" for i in range(1, 11)]


TRAINED: set[str] = set()  # the zoo models present when the chapter ran (some are trained in the background)


@pytest.fixture(scope="module")
def chapter(tmp_path_factory):
    """Run the chapter once with the smoke profile into a temporary root; return its results folder."""
    TRAINED.update(name for name in zoo.ENTRIES if zoo.checkpoint_path(name).exists()
                   and zoo.checkpoint_path(name).with_suffix(".json").exists())
    root = tmp_path_factory.mktemp("anu")
    executed = pipeline.run("anu", "smoke", root=root, progress=False)
    assert executed.exists()
    return results_dir("anu", "smoke", root)


def read(folder, name: str) -> pd.DataFrame:
    frame = pd.read_csv(folder / f"{name}.csv")
    if "note" in frame:  # an empty note is read as NaN
        frame["note"] = frame.note.astype(object).where(frame.note.notna(), "")
    return frame


def trained(name: str) -> bool:
    return name in TRAINED


@pytest.mark.parametrize("table", ["table1_untargeted", "table2_targeted"])
def test_attack_tables_compare_paper_and_reproduced(chapter, table):
    frame = read(chapter, table)
    metrics = ["success_pct", "mean_l2", "median_l2", "time_rel"]
    expected = ["dataset", "attack", "budget"] + [f"{m} {kind}" for m in metrics for kind in ("(paper)", "(here)", "Δ%")]
    assert list(frame.columns[:len(expected)]) == expected
    assert {"time_s (paper: 1000 images, GPU)", "time_s (here)", "note"} <= set(frame.columns)
    assert len(frame) == 36  # every row of the paper's table, reproduced or not
    imagenet = frame.dataset == "ImageNet"
    assert (frame.note[imagenet] == NO_IMAGENET).all() and frame["mean_l2 (here)"][imagenet].isna().all()
    here = frame[frame["mean_l2 (here)"].notna()]
    if trained("mnist-smallcnn"):  # the smoke profile runs budgets 50/70/100 (and 85 targeted) on MNIST
        assert {"DDN", "ANU"} <= set(here.attack[here.dataset == "MNIST"])
    for column in ["mean_l2 (here)", "mean_l2 Δ%", "median_l2 (here)", "time_rel (here)", "time_s (here)"]:
        assert np.isfinite(here[column].astype(float)).all(), column
    assert ((here["success_pct (here)"] >= 0) & (here["success_pct (here)"] <= 100)).all()
    assert (here.note == "").all()
    # the compared Δ% is the relative difference of the two printed values
    delta = 100 * (here["mean_l2 (here)"] - here["mean_l2 (paper)"]) / here["mean_l2 (paper)"].abs()
    np.testing.assert_allclose(here["mean_l2 Δ%"], delta.round(1), atol=0.051)


def test_every_claim_has_a_computed_verdict(chapter):
    claims = read(chapter, "claims")
    assert list(claims.columns) == ["claim", "statement", "paper", "reproduced", "verdict"]
    assert list(claims.claim) == CLAIMS
    assert set(claims.verdict) <= {HOLDS, HOLDS_QUALITATIVELY, DOES_NOT_HOLD}
    assert claims.reproduced.str.len().gt(0).all()
    if trained("mnist-smallcnn"):  # ANU with α_γ = 0 is DDN bit for bit
        assert claims.set_index("claim").verdict["ANU-C6"] == HOLDS


def test_gamma_bound_and_figures(chapter):
    for setting in ("untargeted", "targeted"):
        if not trained("mnist-smallcnn"):
            break
        bound = read(chapter, f"gamma_bound_{setting}")
        assert {"dataset", "budget", "samples hitting the bound (%)", "iterations at the bound (% of all)"} <= set(bound.columns)
        assert ((bound["samples hitting the bound (%)"] >= 0) & (bound["samples hitting the bound (%)"] <= 100)).all()
    figures = {"idea_linear_toy", "fig5_robustness"}
    if trained("mnist-smallcnn"):
        figures |= {"fig3_one_image", "fig4_mean_norm", "fig6_examples_mnist"}
        fig3 = read(chapter, "fig3_summary")
        assert list(fig3.attack) == ["DDN", "ANU"]
        assert all(math.isfinite(v) for v in fig3["final best L2"])
    for name in figures:
        assert (chapter / f"{name}.png").stat().st_size > 1000, name


def test_adversarial_training_tables(chapter):
    at = read(chapter, "adversarial_training")
    assert list(at.internal_attack) == ["ANU-70", "DDN-100", "ANU-80", "DDN-100"]
    assert {"clean_acc_pct (paper)", "clean_acc_pct (here)", "clean_acc_pct Δ%", "note"} <= set(at.columns)
    for model, accuracy, note in zip(at["model here"], at["clean_acc_pct (here)"], at.note):
        if trained(model):
            assert math.isfinite(accuracy) and 0 < accuracy <= 100
        else:
            assert math.isnan(accuracy) and note == f"model {model} not trained yet"
    ratio = read(chapter, "training_time_ratio")
    assert list(ratio.dataset) == ["MNIST", "CIFAR-10"]
    np.testing.assert_allclose(ratio["anu_over_ddn_time (paper)"], [3857.8 / 4840.4, 36.1 / 44.2], rtol=1e-9)
    measured = ratio[ratio["anu_over_ddn_time (here)"].notna()]
    assert ((measured["anu_over_ddn_time (here)"] > 0) & (measured["anu_over_ddn_time (here)"] < 5)).all()
    if trained("mnist-smallcnn"):
        assert "MNIST" in set(measured.dataset)


def test_same_conditions_timing_table(chapter):
    timing = read(chapter, "timing_reduced_budgets")
    assert list(timing.columns) == ["dataset", "setting", "attack", "budget", "time_rel (paper)", "time_rel (here)",
                                    "time_rel Δ%", "note", "time_s (here, median)"]
    assert len(timing) == 18  # 3 datasets × 2 settings × (DDN-100, ANU-reduced, ANU-100)
    assert (timing.note[timing.dataset == "ImageNet"] == NO_IMAGENET).all()
    measured = timing[timing["time_rel (here)"].notna()]
    assert (measured["time_s (here, median)"] > 0).all()
    assert (measured["time_rel (here)"][measured.attack == "DDN"] == 1).all()
    if trained("mnist-smallcnn"):
        assert set(measured.dataset) >= {"MNIST"}
