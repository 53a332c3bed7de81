"""Pipeline: a parameterised notebook runs, a failing one exits non-zero and keeps the previous output, the book builds."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

import advlab
from advlab import pipeline
from advlab.results import results_dir

TINY = '''# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
profile = "quick"
results_dir = None
x = 1
fail = False

# %%
import pandas as pd
from advlab.results import Results
results = Results(results_dir)
if fail:
    raise ValueError("boom: asked to fail")
results.table(pd.DataFrame({"twice_x": [2 * x]}), "table")
'''


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A project root with one tiny notebook and its profiles."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "tiny.py").write_text(TINY)
    (tmp_path / "notebooks" / "profiles.yml").write_text(
        "tiny:\n  smoke: {x: 1, fail: false}\n  quick: {x: 1, fail: false}\n")
    monkeypatch.setenv("ADVLAB_HOME", str(tmp_path))
    return tmp_path


def test_a_parameterised_notebook_runs(home):
    executed = pipeline.run("tiny", "quick", {"x": 21}, progress=False)
    assert executed == home / "book" / "chapters" / "tiny.ipynb"
    assert (results_dir("tiny", "quick", home) / "table.csv").read_text().split() == ["twice_x", "42"]
    text = executed.read_text()
    assert "../results/tiny/quick" in text and ".running" not in text


def test_a_failing_notebook_keeps_the_previous_output(home):
    executed = pipeline.run("tiny", "quick", {"x": 5}, progress=False)
    before = executed.read_bytes()
    table = results_dir("tiny", "quick", home) / "table.csv"
    with pytest.raises(pipeline.NotebookFailed, match=r"notebook 'tiny' .*failed in cell \d+.*boom"):
        pipeline.run("tiny", "quick", {"x": 6, "fail": True}, progress=False)
    assert executed.read_bytes() == before
    assert table.read_text().split() == ["twice_x", "10"]
    assert sorted(p.name for p in table.parent.parent.iterdir()) == ["quick"]  # no staging folder left


def test_the_command_exits_non_zero_naming_notebook_and_cell(home):
    advlab_command = Path(sys.executable).with_name("advlab")
    done = subprocess.run([str(advlab_command), "run", "tiny", "-p", "fail", "true"], capture_output=True, text=True,
                          env={**os.environ, "ADVLAB_HOME": str(home)})
    assert done.returncode == 1
    assert "notebook 'tiny'" in done.stderr and "cell" in done.stderr and "boom" in done.stderr


def test_unknown_parameter_or_profile_is_a_clear_error(home):
    with pytest.raises(ValueError, match="no parameter y"):
        pipeline.run("tiny", "quick", {"y": 1})
    with pytest.raises(ValueError, match="no profile 'full'"):
        pipeline.parameters("tiny", "full")


@pytest.mark.parametrize("name", pipeline.notebook_names())
def test_notebook_defaults_are_its_quick_profile(name):
    source = advlab.project_root() / "notebooks" / f"{name}.py"
    notebook = jupytext.read(source)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    defaults = {}
    exec(cell.source, {}, defaults)
    quick = pipeline.parameters(name, "quick")
    assert {k: defaults[k] for k in quick} == quick
    assert set(defaults) - set(quick) == {"profile", "results_dir"}
    for profile in pipeline.PROFILES:
        assert set(pipeline.parameters(name, profile)) == set(quick)


def test_the_book_builds_with_warnings_as_errors(tmp_path):
    """Every notebook runs with the smoke profile, then `jupyter-book build -W` builds the site."""
    root = advlab.project_root()
    for item in ("_config.yml", "_toc.yml"):
        shutil.copy(root / item, tmp_path / item)
    shutil.copytree(root / "book", tmp_path / "book", ignore=shutil.ignore_patterns("chapters", "results"))
    html = pipeline.book("smoke", root=tmp_path, progress=False)
    intro = (html / "book" / "chapters" / "intro.html").read_text()
    assert "mnist-smallcnn" in intro and "CIFAR-10" in intro
    assert intro.count('src="../../_images/') >= 2  # the two sample grids
    assert 'cell tag_parameters' not in intro  # the defaults cell is hidden; the injected values are shown
    assert (html / "_static" / "mathjax" / "tex-mml-chtml.js").exists()
    assert "_static/mathjax/tex-mml-chtml.js" in (html / "book" / "intro.html").read_text()
    assert "cdn.jsdelivr" not in (html / "book" / "intro.html").read_text()
