"""A chapter shows its committed runs at other profiles (``advlab.chapter.scale``): every table's caption
names the profile and hardware that made it, a committed ``gpu`` run is shown with its hardware, seconds
and differing parameters, an unfinished one is not, and its files count among the chapter's inputs."""

from __future__ import annotations

import json
from types import SimpleNamespace

import matplotlib
import pandas as pd
import pytest
from IPython.display import Image, Markdown

from advlab import pipeline
from advlab.chapter import scale, tables
from advlab.chapter.run import made_by

matplotlib.use("Agg")


@pytest.fixture
def shown(monkeypatch):
    """Everything ``display`` receives, in order."""
    items = []
    monkeypatch.setattr("IPython.display.display", lambda *objects, **_: items.extend(objects))
    return items


def captions(items) -> list[str]:
    return [item.caption for item in items if hasattr(item, "caption") and hasattr(item, "data")]


def texts(items) -> str:
    return "\n".join(item.data for item in items if isinstance(item, Markdown))


def chapter_context(root, profile="quick", **parameters):
    """What ``show_committed`` reads of a running chapter: its results folder is staged beside the others."""
    return SimpleNamespace(name="ddn", profile=profile, parameters={"images": 100, "budget": 10, **parameters},
                           made_by=made_by(profile, "CPU (x86_64), 2 threads"),
                           results=SimpleNamespace(directory=root / "book" / "results" / "ddn" / f".{profile}.running"))


def commit_run(root, profile="gpu", finished=True):
    folder = root / "book" / "results" / "ddn" / profile
    folder.mkdir(parents=True)
    pd.DataFrame({"claim": ["DDN-C1"], "verdict": ["holds"]}).to_csv(folder / "claims.csv", index=False)
    pd.DataFrame({"attack": ["DDN"], "mean_l2": [1.25]}).to_csv(folder / "table1_untargeted.csv", index=False)
    figure = matplotlib.figure.Figure(figsize=(1, 1))
    figure.savefig(folder / "fig4_accuracy_vs_eps.png")
    if finished:
        record = {"chapter": "ddn", "profile": profile, "parameters": {"images": 1000, "budget": 10},
                  "finished": "2026-11-27T09:00:00+00:00", "seconds": 312.0, "device": "cuda",
                  "hardware": "NVIDIA H200", "versions": {"torch": "2.11.0+cu130"}, "verdicts": {"holds": 1}}
        (folder / "run.json").write_text(json.dumps(record))
    return folder


def test_every_table_caption_ends_with_the_profile_and_hardware_that_made_it(shown, monkeypatch):
    monkeypatch.setattr(tables, "MADE_BY", made_by("quick", "CPU (x86_64), 2 threads"))
    tables.show(pd.DataFrame({"a": [1]}), caption="Table 1")
    tables.show(pd.DataFrame({"a": [1]}))
    tables.show(pd.DataFrame({"a": [1]}), caption="Table 2", made_by=made_by("gpu", "NVIDIA H200"))
    assert captions(shown) == ["Table 1 — profile quick · CPU (x86_64), 2 threads",
                               "profile quick · CPU (x86_64), 2 threads", "Table 2 — profile gpu · NVIDIA H200"]


def test_a_committed_gpu_run_is_shown_with_its_hardware_time_parameters_and_verdicts(tmp_path, shown):
    commit_run(tmp_path)
    scale.show_committed(chapter_context(tmp_path))
    text = texts(shown)
    assert "Profile `gpu`** ran on **NVIDIA H200** (torch 2.11.0+cu130) in 5.2 minutes" in text
    assert "Verdicts: 1 holds" in text
    assert captions(shown) == [
        "Parameters of profile gpu that differ from this build's — profile quick · CPU (x86_64), 2 threads",
        "Headline claims — profile gpu · NVIDIA H200"]
    differing = next(item for item in shown if isinstance(getattr(item, "data", None), pd.DataFrame))
    assert differing.data.to_dict("records") == [{"parameter": "images", "this build": "100", "profile gpu": "1000"}]


def test_every_table_and_figure_of_a_committed_run_is_shown_with_its_profile_and_hardware(tmp_path, shown):
    commit_run(tmp_path)
    scale.show_committed_results(chapter_context(tmp_path))
    assert captions(shown) == ["table1_untargeted — profile gpu · NVIDIA H200"]
    assert sum(isinstance(item, Image) for item in shown) == 1
    assert "*fig4_accuracy_vs_eps* — profile gpu · NVIDIA H200" in texts(shown)


def test_the_same_parameters_are_not_listed(tmp_path, shown):
    commit_run(tmp_path)
    scale.show_committed(chapter_context(tmp_path, images=1000))
    assert captions(shown) == ["Headline claims — profile gpu · NVIDIA H200"]


def test_an_unfinished_run_and_the_builds_own_profile_are_not_shown(tmp_path, shown):
    commit_run(tmp_path, "full", finished=False)
    commit_run(tmp_path, "gpu")
    scale.show_committed(chapter_context(tmp_path, profile="gpu"))
    scale.show_committed_results(chapter_context(tmp_path, profile="gpu"))
    assert not captions(shown)
    assert "`advlab run ddn --profile gpu` makes one" in texts(shown)


def test_committed_results_count_among_a_quick_runs_inputs_but_not_a_gpu_runs(tmp_path):
    params = pipeline.parameters("ddn", "smoke")
    before = {profile: pipeline.fingerprint("ddn", profile, params, tmp_path) for profile in ("quick", "gpu")}
    folder = commit_run(tmp_path)
    (folder / "table1_untargeted.csv").write_text("attack,mean_l2\nDDN,1.5\n")
    after = {profile: pipeline.fingerprint("ddn", profile, params, tmp_path) for profile in ("quick", "gpu")}
    assert after["quick"]["committed results"] != before["quick"]["committed results"]
    assert after["gpu"]["committed results"] == before["gpu"]["committed results"]
    assert {k for k in after["quick"] if after["quick"][k] != before["quick"][k]} == {"committed results"}


@pytest.mark.parametrize("name", ["ddn", "anu"])
def test_the_gpu_profile_attacks_the_papers_images_with_the_papers_budgets(name):
    quick, gpu = pipeline.parameters(name, "quick"), pipeline.parameters(name, "gpu")
    assert gpu["recipe"] == "quick"  # the zoo's committed models
    assert gpu["images"] == {"mnist": 1000, "cifar10": 1000}
    assert all(gpu["targeted_images"][ds] > quick["targeted_images"][ds] for ds in ("mnist", "cifar10"))
    if name == "ddn":
        assert gpu["ddn_budgets"] == [100, 300, 1000] and gpu["cw_budgets"][:2] == [[4, 25], [1, 100]]
        assert len(gpu["cw_grid_learning_rates"]["mnist"]) * len(gpu["cw_grid_constants"]) == 35  # the paper's grid
    else:
        assert all(gpu["budgets"][ds] == [50, 70, 100, 200, 500, 1000] for ds in ("mnist", "cifar10"))
        assert gpu["robust_steps"] == gpu["example_steps"] == 1000
