"""The EAD chapter (smoke profile, run once per session by ``smoke_book``): every table and figure it
promises, the paper's rows beside reproduced values with their 95 % intervals, COV(β=0) = C&W, every
claim EAD-C1..C14 once with a verdict, a rule and n, and ``run.json``."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from advlab import pipeline, project_root
from advlab.chapter.claims import NOT_TESTED, VERDICTS

CLAIMS = [f"EAD-C{i}" for i in range(1, 15)]
PER_DATASET = {"mnist": ["e1_mnist_table1", "e2_mnist_table6", "e3_mnist_table8", "e4_mnist_table11"],
               "cifar10": ["e1_cifar10_table5", "e2_cifar10_table7", "e3_cifar10_table9", "e4_cifar10_table12"]}
TABLES = ["e5_table13", "e6_table14", "e6_per_seed", "e6_clean_accuracy", "schedule_gap_gpu", "schedule_gap_cpu",
          "foolbox_comparison", "claims"]
FIGURES = ["method", "e2_mnist_fig2", "e2_cifar10_fig5", "e4_fig3", "e5_fig4", "fig6_mnist_ead-en", "fig7_cifar10_c-w-l2"]


@pytest.fixture(scope="module")
def run(smoke_book):
    return smoke_book.chapter("ead")


def test_every_table_and_figure_is_written(run):
    for name in TABLES + [t for tables in PER_DATASET.values() for t in tables]:
        assert (run.results / f"{name}.csv").stat().st_size > 0, name
    for name in FIGURES:
        assert (run.results / f"{name}.png").stat().st_size > 5000, name


@pytest.mark.parametrize("table", ["e1_mnist_table1", "e3_mnist_table8", "e2_cifar10_table7", "e5_table13", "e6_table14"])
def test_tables_keep_the_papers_rows_beside_reproduced_values_and_intervals(run, table):
    frame = run.table(table)
    assert set(frame.case) == {"best", "avg", "worst"} and {"asr (paper)", "asr (here)", "l1 Δ%"} <= set(frame.columns)
    reproduced = frame[frame.note.isna()]
    assert len(reproduced) and frame["asr (paper)"].notna().sum() >= len(frame) / 2
    asr = reproduced["asr (here)"]
    assert ((asr >= 0) & (asr <= 100)).all()
    measured = reproduced.dropna(subset=["l1 (here)", "l1 low"])
    assert ((measured["l1 low"] <= measured["l1 (here)"] + 1e-9) & (measured["l1 (here)"] <= measured["l1 high"] + 1e-9)).all()


def test_attacks_with_successes_carry_finite_distortions(run):
    e3 = run.table("e3_mnist_table8").set_index(["attack", "case"])
    for attack in ("I-FGM-L1", "I-FGM-L2", "I-FGM-L∞"):  # one ε search succeeds even at the smoke profile
        assert e3.loc[(attack, "best"), "asr (here)"] > 0 and np.isfinite(e3.loc[(attack, "best"), "l1 (here)"])


def test_cov_without_beta_is_carlini_wagner_and_claims_are_judged(run):
    claims = run.table("claims").set_index("claim")
    assert list(claims.index) == CLAIMS and set(claims.verdict) <= set(VERDICTS)
    assert "max |COV(β=0) − C&W|" in claims.here["EAD-C1"] and "0.000000" in claims.here["EAD-C1"]
    assert claims.verdict["EAD-C14"] == NOT_TESTED
    judged = claims[claims.verdict != NOT_TESTED]
    assert {f"EAD-C{i}" for i in (1, 5, 6, 7, 8, 9, 12, 13)} <= set(judged.index)
    assert judged.rule.str.len().gt(0).all() and judged.n.gt(0).all()
    assert claims.here["EAD-C2"].count("too few for an interval") == 2  # smoke: 1 sweep image per dataset
    headings = set(re.findall(r"^# ## (.+)$", (project_root() / "notebooks" / "ead.py").read_text(), re.M))
    assert set(claims.section.dropna()) <= headings
    assert claims.caveat.fillna("").str.contains("ImageNet").sum() >= 4


def test_schedule_gap_and_foolbox_come_from_committed_measurements(run):
    gpu = run.table("schedule_gap_gpu")
    assert set(gpu.attack) == {"EAD (EN)", "EAD (L1)", "C&W"} and gpu.hardware.str.contains("H200").all()
    foolbox = run.table("foolbox_comparison")
    assert set(foolbox.rule) == {"EN", "L1"} and (foolbox["max |ΔL1|"] == 0).all()


def test_run_record_and_no_errors(run):
    record = json.loads((run.results / "run.json").read_text())
    assert record["chapter"] == "ead" and record["parameters"] == pipeline.parameters("ead", "smoke")
    assert sum(record["verdicts"].values()) == len(CLAIMS)
    notebook = json.loads(run.notebook.read_text())
    outputs = [o for cell in notebook["cells"] if cell["cell_type"] == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
