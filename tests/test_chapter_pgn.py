"""The PGN chapter (smoke profile, run once per session by ``smoke_book``): the zoo's MNIST experiment with its
learning curves, E1's generator against noise / FGM / PGD at equal L2, Table 3 beside the paper at matched
benign accuracy, the robustness-curves and their gaps, the ablations, C11's computations, the CIFAR-10 table,
every claim PGN-C1..C11 once with a verdict, and ``run.json``."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from advlab import pipeline, project_root, zoo
from advlab.chapter.claims import NOT_TESTED, VERDICTS
from advlab.reference import paper_table

CLAIMS = [f"PGN-C{i}" for i in range(1, 12)]
TABLES = ["models", "e1_equal_l2", "cw_learning_rate", "e8_where", "robustness_curves", "curve_gaps", "table3", "table3_matching", "training_step_timing",
          "e5_capacity", "e6_ablations", "e7_overfitting", "c11_generator_reach", "c11_bound", "table3_cifar10", "claims"]
FIGURES = ["learning_curves", "fig3", "e1_attacker_training", "fig5_robustness_curves", "fig4_cw_curves", "fig5_capacity",
           "fig8_ablation", "fig2_fgm_at", "e8_generator_outputs"]
MNIST_MODELS = [name for name in zoo.ENTRIES if name.startswith("mnist-convpool")]


@pytest.fixture(scope="module")
def run(smoke_book):
    chapter = smoke_book.chapter("pgn")
    missing = set(MNIST_MODELS) - chapter.trained
    if missing:  # the committed zoo holds them all; this names what a partial checkout lacks
        pytest.fail(f"the PGN chapter needs the zoo's MNIST ConvPool-CNNs; not trained: {', '.join(sorted(missing))}")
    return chapter


def test_every_table_and_figure_is_written(run):
    for name in TABLES:
        assert (run.results / f"{name}.csv").stat().st_size > 0, name
    for name in FIGURES:
        assert (run.results / f"{name}.png").stat().st_size > 5000, name


def test_every_model_is_listed_with_its_training_and_learning_curve(run):
    models = run.table("models")
    assert len(models) == len(MNIST_MODELS) - 6  # the six E1 attackers are generators, listed in E1
    assert (models.epochs == 15).all() and (models["training (s)"] > 0).all()
    assert ((models["benign_pct low"] <= models.benign_pct) & (models.benign_pct <= models["benign_pct high"])).all()
    assert models.benign_pct.between(90, 100).all()  # every MNIST model is a working classifier
    for name in MNIST_MODELS:
        history = zoo.manifest(name)["history"]
        assert {"holdout_rho_ddn"} <= set(history[0]) or {"generator_accuracy"} <= set(history[0]), name


def test_e1_compares_the_generator_with_noise_fgm_and_pgd_on_the_same_images(run):
    e1 = run.table("e1_equal_l2")
    assert set(e1.classifier) == {"FGM-AT ε 1", "PGD-AT ε 1"} and len(e1) == 6
    for other in ("noise", "fgm", "pgd"):
        column = f"generator − {other} (pp)"
        assert np.allclose(e1[column], e1["acc generator (%)"] - e1[f"acc {other} (%)"], atol=1e-6)
    assert (e1["mean L2"] > 0).all()


def test_table3_stands_beside_the_paper(run):
    for name in ("table3", "table3_cifar10"):
        table = run.table(name)
        assert list(table.defense.unique()) == ["Naive", "FGM-AT", "PGD-AT", "PGN"], name
        assert set(table.attack) == {"FGM", "MIM", "DeepFool", "C&W"} and len(table) == 16
        paper = paper_table("pgn", "T3").set_index(["defense", "attack"])
        pgn_cw = table[(table.defense == "PGN") & (table.attack == "C&W")].iloc[0]
        assert pgn_cw["mean_l2 (paper)"] == pytest.approx(paper.loc[("Ours", "C&W"), "mean_l2_wbox"])
        assert pgn_cw["benign_pct (paper)"] == pytest.approx(100 * paper.loc[("Ours", "C&W"), "benign_acc"])
        here, theirs = table["acc_bbox_pct (here)"], table["acc_bbox_pct (paper)"]
        assert np.allclose(table["acc_bbox_pct Δ%"], (100 * (here - theirs) / theirs).round(1), atol=0.051)
        white = table.attack.isin(["FGM", "MIM"])
        assert table.loc[white, "acc_wbox_pct (here)"].notna().all()
        # the minimal-norm attacks report mean and median L2 (a smoke budget may fail: mean NaN, median +∞)
        assert table.loc[~white, "median_l2 (here)"].notna().all() and table.loc[white, "median_l2 (here)"].isna().all()
    table = run.table("table3")
    assert (table["s_per_epoch (here)"] > 0).all() and table["s_per_epoch (paper)"].notna().all()
    assert len(run.table("table3_matching")) == 3


def test_robustness_curves_cover_every_sweep_and_both_rho_definitions(run):
    curves = run.table("robustness_curves")
    assert set(curves.method) == {"Naive", "FGM-AT", "PGD-AT", "PGN"}
    sweep = zoo.PGN_MNIST
    assert (curves.method == "FGM-AT").sum() == len(sweep["fgm"]) and (curves.width == 16).sum() == 1 + len(sweep["wide_pgn"])
    finite = curves.dropna(subset=["rho_cw", "rho_cw_correct_only"])
    assert (finite.rho_cw_correct_only >= finite.rho_cw - 1e-9).all()  # leaving distance-0 images out raises the mean
    gaps = run.table("curve_gaps")
    assert len(gaps) == 2 * len(sweep["pgn"])


def test_ablations_and_c11(run):
    ablations = run.table("e6_ablations")
    assert set(ablations.change) == set(zoo.PGN_ABLATIONS)
    reach = run.table("c11_generator_reach")
    assert len(reach) == 6
    # the per-image search starts from the generator's output too, so it is never below it
    assert (reach["mean objective, per-image search"] >= reach["mean objective, generator"] - 1e-6).all()
    bound = run.table("c11_bound")
    assert bound["C = log(√(2π)σ)"].iloc[0] == pytest.approx(np.log(np.sqrt(2 * np.pi) * np.sqrt(1 / (2 * 0.1))))


def test_claims_are_judged_with_rules(run):
    claims = run.table("claims").set_index("claim")
    assert list(claims.index) == CLAIMS and set(claims.verdict) <= set(VERDICTS)
    judged = claims[claims.verdict != NOT_TESTED]
    assert set(CLAIMS) - set(judged.index) <= {"PGN-C6"}  # C6 needs a PGN point inside the baselines' range
    assert judged.rule.str.len().gt(0).all() and judged.n.gt(0).all()
    assert "(a) |−log p_n(r)" in claims.loc["PGN-C11", "here"]
    headings = set(re.findall(r"^# ## (.+)$", (project_root() / "notebooks" / "pgn.py").read_text(), re.M))
    assert set(claims.section.dropna()) <= headings


def test_run_record_and_no_errors(run):
    record = json.loads((run.results / "run.json").read_text())
    assert record["chapter"] == "pgn" and record["parameters"] == pipeline.parameters("pgn", "smoke")
    assert sum(record["verdicts"].values()) == len(CLAIMS)
    notebook = json.loads(run.notebook.read_text())
    outputs = [o for cell in notebook["cells"] if cell["cell_type"] == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
