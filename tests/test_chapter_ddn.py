"""Chapter ddn: the notebook runs end to end with the smoke profile and saves complete, consistent results.

One papermill run (module-scoped fixture, ≤ 60 s) feeds every check: the tables have the paper's
rows and the chapter's columns, every reproduced number is finite, each row names the budget it ran
with, and every headline claim DDN-C1..C14 has either a computed verdict or a stated reason.
Also the library extension the chapter uses for Fig. 2: ``carlini_wagner_l2(return_best_const=True)``.
"""

from __future__ import annotations

import math
import time

import pandas as pd
import pytest
import torch

from advlab import pipeline
from advlab.attacks import carlini_wagner_l2
from advlab.report import DOES_NOT_HOLD, HOLDS, HOLDS_QUALITATIVELY, paper_table
from advlab.results import results_dir
from linear_models import make_inputs, make_model

CLAIMS = [f"DDN-C{i}" for i in range(1, 15)]
IMAGENET_ONLY = {"DDN-C4", "DDN-C5", "DDN-C8"}
NO_IMAGENET = "not reproduced (no ImageNet data offline)"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("book")
    start = time.perf_counter()
    executed = pipeline.run("ddn", "smoke", root=root, progress=False)
    seconds = time.perf_counter() - start
    return {"executed": executed, "results": results_dir("ddn", "smoke", root), "seconds": seconds,
            "params": pipeline.parameters("ddn", "smoke")}


def table(run, name):
    return pd.read_csv(run["results"] / f"{name}.csv", keep_default_na=True)


def test_smoke_run_is_fast_and_writes_every_artefact(run):
    assert run["seconds"] <= 60, f"the smoke profile took {run['seconds']:.0f} s"
    names = {path.name for path in run["results"].iterdir()}
    for name in ("models", "scale", "eq8_gamma", "cw_grid_mnist", "table1_untargeted", "table2_targeted_mnist",
                 "table4_targeted_imagenet", "table5_defense_mnist", "table6_defense_cifar10", "fig2_cw_best_constant",
                 "fig4_accuracy_vs_eps", "fig4_stated_points", "claims", "claims_not_judged"):
        assert f"{name}.csv" in names, name
    for name in ("fig_idea_norm_trajectory", "fig2_cw_best_constant", "fig4_accuracy_vs_eps", "fig5_examples_mnist"):
        assert f"{name}.png" in names, name
    text = run["executed"].read_text()
    assert "Traceback" not in text and ".running" not in text


def check_compared(frame, paper, keys, metrics):
    """Paper rows in the paper's order with their values; finite reproduced values and Δ% where reproduced."""
    assert list(frame.columns[:len(keys)]) == keys
    for metric in metrics:
        for suffix in (" (paper)", " (here)", " Δ%"):
            assert metric + suffix in frame.columns
    assert "note" in frame.columns
    assert frame[keys].astype(str).values.tolist() == paper[keys].astype(str).values.tolist()
    for metric in (m for m in metrics if m in paper.columns):  # derived metrics (time_vs_ddn100) are not printed
        assert pd.to_numeric(frame[f"{metric} (paper)"], errors="coerce").round(4).equals(
            pd.to_numeric(paper[metric], errors="coerce").round(4)), metric
    reproduced = frame[frame["note"].isna()]
    for metric in metrics:
        here = reproduced[f"{metric} (here)"]
        if metric in ("success_pct", "avg_success_pct", "ll_success_pct", "acc_at_eps_pct"):
            assert here.between(0, 100).all(), metric
        elif metric.endswith("mean_l2"):  # a mean over successes: positive, undefined only if every attack failed
            success = reproduced[f"{metric.replace('mean_l2', 'success_pct')} (here)"]
            assert ((here > 0) | (here.isna() & (success == 0))).all(), metric
        else:
            assert here.notna().all(), metric
    return reproduced


def test_table1_rows_columns_and_budgets(run):
    frame = table(run, "table1_untargeted")
    paper = paper_table("ddn", "T1")
    metrics = ["success_pct", "mean_l2", "median_l2", "n_grads", "time_vs_ddn100"]
    assert {"budget (here)", "runtime_s (paper, GPU, 1000 images)", "runtime_s (here, CPU)"} <= set(frame.columns)
    check_compared(frame, paper, ["dataset", "attack", "budget"], metrics)
    assert (frame.loc[frame["dataset"] == "ImageNet", "note"] == NO_IMAGENET).all()
    mnist = frame[frame["dataset"] == "MNIST"]
    assert mnist["note"].isna().all(), "the MNIST baseline is in the repository: Table 1 must be reproduced"
    params = run["params"]
    ddn_rows = mnist[mnist["attack"] == "DDN"]
    assert ddn_rows["budget (here)"].astype(str).tolist() == [str(k) for k in params["ddn_budgets"]]
    cw_rows = mnist[mnist["attack"] == "C&W"]
    assert cw_rows["budget (here)"].tolist() == [f"{s}×{i}" for s, i in params["cw_budgets"]]
    assert (mnist["mean_l2 (here)"].dropna() > 0).all()
    # DDN's gradient count is its budget (one forward and one backward pass per iteration)
    assert ddn_rows["n_grads (here)"].tolist() == [float(k) for k in params["ddn_budgets"]]
    assert (ddn_rows["success_pct (here)"] > 0).all()


def test_targeted_and_defense_tables(run):
    metrics = ["avg_success_pct", "avg_mean_l2", "ll_success_pct", "ll_mean_l2"]
    mnist = check_compared(table(run, "table2_targeted_mnist"), paper_table("ddn", "T2"), ["attack"], metrics)
    assert len(mnist) == 6
    imagenet = table(run, "table4_targeted_imagenet")
    assert (imagenet["note"] == NO_IMAGENET).all() and imagenet[[f"{m} (here)" for m in metrics]].isna().all().all()
    defense_metrics = ["success_pct", "mean_l2", "median_l2", "acc_at_eps_pct"]
    for name, paper_id in (("table5_defense_mnist", "T5"), ("table6_defense_cifar10", "T6")):
        frame = table(run, name)
        check_compared(frame, paper_table("ddn", paper_id), ["defense", "attack"], defense_metrics)
        assert {"model (here)", "budget (here)"} <= set(frame.columns)
        assert frame["note"].dropna().astype(str).str.startswith("not reproduced").all()
    baseline = table(run, "table5_defense_mnist").query("defense == 'Baseline'")
    assert baseline["note"].isna().all()
    # "All" is the per-image minimum of the three attacks: never a larger median, never less success
    single, best = baseline[baseline["attack"] != "All"], baseline[baseline["attack"] == "All"].iloc[0]
    assert best["success_pct (here)"] >= single["success_pct (here)"].max()
    assert best["median_l2 (here)"] <= single["median_l2 (here)"].min()
    assert best["acc_at_eps_pct (here)"] <= single["acc_at_eps_pct (here)"].min()


def test_every_claim_has_a_computed_verdict_or_a_stated_reason(run):
    judged, not_judged = table(run, "claims"), table(run, "claims_not_judged")
    assert list(judged.columns) == ["claim", "statement", "paper", "reproduced", "verdict"]
    assert sorted(judged["claim"].tolist() + not_judged["claim"].tolist(), key=CLAIMS.index) == CLAIMS
    assert set(judged["verdict"]) <= {HOLDS, HOLDS_QUALITATIVELY, DOES_NOT_HOLD}
    assert judged["reproduced"].notna().all() and not judged["reproduced"].str.contains("nan").any()
    assert set(not_judged.loc[not_judged["reproduced"] == NO_IMAGENET, "claim"]) == IMAGENET_ONLY
    others = not_judged[~not_judged["claim"].isin(IMAGENET_ONLY)]
    assert others["reproduced"].str.startswith("not evaluated: ").all()
    assert "DDN-C1" in set(judged["claim"]), "the MNIST baseline is in the repository: DDN-C1 must get a verdict"


def test_cw_best_constant_is_the_constant_of_the_returned_round():
    """``return_best_const`` leaves the attack unchanged and reports a constant of its search (or NaN on failure)."""
    model = make_model((4, 6), 10, scale=10.0, seed=11)
    inputs, labels = make_inputs(model, (4, 6), 4, seed=12)
    kwargs = dict(binary_search_steps=4, max_iterations=50, learning_rate=0.05, initial_const=0.01)
    plain = carlini_wagner_l2(model, inputs, labels, **kwargs)
    adv, const = carlini_wagner_l2(model, inputs, labels, return_best_const=True, **kwargs)
    torch.testing.assert_close(adv, plain, rtol=0, atol=0)
    with torch.no_grad():
        success = model(adv).argmax(1) != labels
    assert torch.isnan(const[~success]).all() and torch.isfinite(const[success]).all()
    # every constant the search can visit: 0.01·10^k until the first success, then bisections
    visited = set()
    for sample in range(len(labels)):  # rerun with the search cut after r rounds: the constant must be one it used
        for rounds in range(1, kwargs["binary_search_steps"] + 1):
            _, c = carlini_wagner_l2(model, inputs[sample:sample + 1], labels[sample:sample + 1],
                                     return_best_const=True, **{**kwargs, "binary_search_steps": rounds})
            if not math.isnan(c.item()):
                visited.add((sample, round(c.item(), 12)))
    for sample in success.nonzero().squeeze(1).tolist():
        assert (sample, round(const[sample].item(), 12)) in visited
    failed = carlini_wagner_l2(model, inputs, labels, return_best_const=True,
                               **{**kwargs, "binary_search_steps": 1, "initial_const": 1e-9, "max_iterations": 1})[1]
    assert torch.isnan(failed).all()
