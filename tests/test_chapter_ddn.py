"""Chapter ddn: its smoke run (``smoke_book``, once per test session) writes every table and figure, the
paper's rows with the values measured here inside their 95 % intervals and the budget each row ran,
reuses Table 1's runs in Tables 5–6, judges every headline claim DDN-C1..C14 exactly once with one of
the five verdicts, a rule and n, and records its run in ``run.json``; the notebook keeps at most half
the code lines it had before the chapter kit."""

from __future__ import annotations

import json

import jupytext
import numpy as np
import pandas as pd
import pytest

import advlab
from advlab import pipeline
from advlab.chapter.claims import COLUMNS, NOT_TESTED, VERDICTS
from advlab.reference import paper_table

CLAIMS = [f"DDN-C{i}" for i in range(1, 15)]
IMAGENET_ONLY = {"DDN-C4", "DDN-C5", "DDN-C8"}
NO_IMAGENET = "not reproduced (no ImageNet data offline)"
CODE_LINES_BEFORE_THE_KIT = 717  # non-blank, non-comment code lines of notebooks/ddn.py before the rebuild
CIFAR10 = {"cifar10-cnn", "cifar10-cnn-pgd-at", "cifar10-cnn-ddn-at"}
MNIST_DEFENSE = {"mnist-smallcnn", "mnist-smallcnn-pgd-at", "mnist-smallcnn-ddn-at"}


@pytest.fixture(scope="module")
def chapter(smoke_book):
    return smoke_book.chapter("ddn")


@pytest.fixture(scope="module")
def params():
    return pipeline.parameters("ddn", "smoke")


def table(chapter, name):
    return pd.read_csv(chapter.results / f"{name}.csv")


def check_intervals(frame: pd.DataFrame, metrics: list[str]) -> None:
    """Every finite measured value lies in its own 95 % interval, and some values were measured."""
    for metric in metrics:
        value = pd.to_numeric(frame[f"{metric} (here)"], errors="coerce")
        low, high = frame[f"{metric} low"], frame[f"{metric} high"]
        measured = value.notna() & np.isfinite(value) & low.notna()
        assert measured.any(), metric
        assert (low[measured] <= value[measured] + 1e-9).all() and (value[measured] <= high[measured] + 1e-9).all(), metric


def test_smoke_run_is_fast_and_writes_every_artefact(chapter):
    assert chapter.seconds <= 90, f"the smoke profile took {chapter.seconds:.0f} s"
    names = {path.name for path in chapter.results.iterdir()}
    tables = ["models", "scale", "eq8_gamma", "cw_grid", "table1_untargeted", "table2_targeted_mnist",
              "table4_targeted_imagenet", "fig2_cw_best_constant", "claims"]
    figures = ["fig3_idea_norm_trajectory", "fig2_cw_best_constant"]
    if CIFAR10 <= chapter.trained:
        tables += ["table3_targeted_cifar10", "table6_defense_cifar10"]
        figures += ["fig5_examples_cifar10"]
    if MNIST_DEFENSE <= chapter.trained:
        tables += ["table5_defense_mnist", "fig4_accuracy_vs_eps", "fig4_stated_points"]
        figures += ["fig4_accuracy_vs_eps", "fig5_examples_mnist"]
    assert {f"{name}.csv" for name in tables} <= names
    assert {f"{name}.png" for name in figures} <= names
    notebook = json.loads(chapter.notebook.read_text())
    errors = [o for c in notebook["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, errors[0]["evalue"] if errors else ""


def test_table1_has_the_papers_rows_with_intervals_and_the_budgets_run(chapter, params):
    frame = table(chapter, "table1_untargeted")
    paper = paper_table("ddn", "T1")
    keys = ["dataset", "attack", "budget"]
    assert sorted(map(tuple, frame[keys].astype(str).values)) == sorted(map(tuple, paper[keys].astype(str).values))
    assert (frame.loc[frame["dataset"] == "ImageNet", "note"] == NO_IMAGENET).all()
    mnist = frame[frame["dataset"] == "MNIST"].set_index(["attack", "budget"])
    assert mnist["note"].isna().all(), "the MNIST baseline is in the repository: its rows are reproduced"
    assert (mnist["n"] == params["images"]["mnist"]).all()
    check_intervals(frame[frame["note"].isna()], ["success_pct", "mean_l2", "median_l2"])
    for paper_budget, steps in zip(("100", "300", "1000"), params["ddn_budgets"]):
        assert mnist.loc[("DDN", paper_budget), "budget (here)"] == f"DDN {steps}"
        assert mnist.loc[("DDN", paper_budget), "gradients (here)"] == steps  # one backward pass per iteration
    for paper_budget, (search, steps) in zip(("4x25", "1x100", "9x10000"), params["cw_budgets"]):
        assert mnist.loc[("C&W", paper_budget), "budget (here)"] == f"C&W {search}×{steps}"
        assert 0 < mnist.loc[("C&W", paper_budget), "gradients (here)"] <= search * steps
    assert mnist.loc[("DDN", "100"), "seconds vs DDN-100 (here)"] == pytest.approx(1.0)
    assert (mnist["seconds"] > 0).all()


def test_targeted_tables_count_images_and_quote_imagenet(chapter, params):
    metrics = ["avg_success_pct", "avg_mean_l2", "ll_success_pct", "ll_mean_l2"]
    mnist = table(chapter, "table2_targeted_mnist")
    assert sorted(mnist["attack"]) == sorted(paper_table("ddn", "T2")["attack"])
    assert (mnist["n"] == params["targeted_images"]["mnist"]).all() and mnist["note"].isna().all()
    assert mnist[[f"{m} (paper)" for m in metrics]].notna().all().all()
    assert mnist["avg_success_pct (here)"].between(0, 100).all()
    imagenet = table(chapter, "table4_targeted_imagenet")
    assert (imagenet["note"] == NO_IMAGENET).all() and imagenet[[f"{m} (here)" for m in metrics]].isna().all().all()


def test_defense_table_reuses_table1_and_all_is_the_per_image_minimum(chapter):
    if not MNIST_DEFENSE <= chapter.trained:
        pytest.skip("the MNIST adversarially trained models are not trained")
    frame = table(chapter, "table5_defense_mnist")
    keys = ["defense", "attack"]
    assert sorted(map(tuple, frame[keys].values)) == sorted(map(tuple, paper_table("ddn", "T5")[keys].values))
    check_intervals(frame, ["success_pct", "acc_at_eps_pct"])
    baseline = frame[frame["defense"] == "Baseline"].set_index("attack")
    t1 = table(chapter, "table1_untargeted").set_index(["dataset", "attack", "budget"])
    for row, key in (("C&W 9x10000", ("MNIST", "C&W", "9x10000")), ("DDN 1000", ("MNIST", "DDN", "1000"))):
        for metric in ("success_pct", "median_l2"):  # Table 1's baseline runs serve Table 5
            assert baseline.loc[row, f"{metric} (here)"] == pytest.approx(t1.loc[key, f"{metric} (here)"])
    for defense, rows in frame.groupby("defense"):
        single, best = rows[rows["attack"] != "All"], rows[rows["attack"] == "All"].iloc[0]
        assert best["success_pct (here)"] >= single["success_pct (here)"].max()
        assert best["median_l2 (here)"] <= single["median_l2 (here)"].min()
        assert best["acc_at_eps_pct (here)"] <= single["acc_at_eps_pct (here)"].min()
    points = table(chapter, "fig4_stated_points")
    assert len(points) == 12 and points.loc[points["dataset"] == "MNIST", "note"].isna().all()
    check_intervals(points[points["dataset"] == "MNIST"], ["accuracy_pct"])


def test_every_claim_is_judged_once_with_a_verdict_a_rule_and_n(chapter):
    claims = table(chapter, "claims")
    assert list(claims.columns) == COLUMNS
    assert claims["claim"].tolist() == CLAIMS  # each exactly once, in order
    assert set(claims["verdict"]) <= set(VERDICTS) and (claims["profile"] == "smoke").all()
    assert (claims.loc[claims["claim"].isin(IMAGENET_ONLY), "verdict"] == NOT_TESTED).all()
    assert claims.loc[claims["claim"].isin(IMAGENET_ONLY), "here"].str.contains("ImageNet").all()
    judged = claims[claims["verdict"] != NOT_TESTED]
    assert {"DDN-C1", "DDN-C2", "DDN-C6", "DDN-C7", "DDN-C14"} <= set(judged["claim"])  # MNIST is in the repository
    assert judged["rule"].str.len().gt(10).all() and (judged["n"] >= 1).all()
    assert judged["here"].str.contains(r"\(n = \d+[,)]").all()
    c3 = claims.set_index("claim").loc["DDN-C3"]  # the smoke profile's C&W reference is far below 100× DDN-100
    assert c3["verdict"] == NOT_TESTED and "cannot reach 100×" in c3["here"]
    truncated = claims.set_index("claim").loc[["DDN-C1", "DDN-C7"], "caveat"]
    assert truncated.str.contains("C&W 9×10 000 runs as").all()  # the truncated reference is stated
    headings = {line.lstrip("#").strip() for cell in jupytext.read(advlab.project_root() / "notebooks" / "ddn.py").cells
                if cell.cell_type == "markdown" for line in cell.source.splitlines() if line.startswith("#")}
    assert set(claims["section"].dropna()) <= headings  # the summary page links to these sections


def test_run_record_has_parameters_hardware_sources_and_verdicts(chapter, params):
    record = json.loads((chapter.results / "run.json").read_text())
    assert record["chapter"] == "ddn" and record["profile"] == "smoke"
    assert record["parameters"] == params
    assert record["hardware"] and record["seconds"] > 0
    mnist = [source for label, source in record["dataset_sources"].items() if label.startswith("mnist test")]
    assert mnist and all("MNIST" in source for source in mnist)
    assert record["models"]["mnist-smallcnn"]["sha256"]
    assert sum(record["verdicts"].values()) == len(CLAIMS)


def test_notebook_has_at_most_half_its_former_code_lines():
    notebook = jupytext.read(advlab.project_root() / "notebooks" / "ddn.py")
    lines = [line for cell in notebook.cells if cell.cell_type == "code" for line in cell.source.splitlines()
             if line.strip() and not line.strip().startswith("#")]
    assert len(lines) <= 0.52 * CODE_LINES_BEFORE_THE_KIT, len(lines)  # "at most about half" (issue 8)
