"""Pipeline: a parameterised notebook runs, a failing one exits non-zero and keeps the previous output, a run whose
inputs are unchanged is skipped, the book builds."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import papermill
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
with open("../../executions.log", "a") as log:  # the kernel runs in <root>/book/chapters
    log.write(f"{profile} {x}\\n")
'''
SKIPPED = r"advlab: {} \({}\) unchanged since \d{{4}}-\d\d-\d\d \d\d:\d\d, skipped \(--force reruns\)"


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


def executions(home: Path) -> list[str]:
    """One line per execution of a tiny notebook in ``home``: its profile and ``x``."""
    log = home / "executions.log"
    return log.read_text().splitlines() if log.exists() else []


def stamps(home: Path) -> dict[str, int]:
    """The mtime of every file the runs wrote under ``home/book``."""
    return {str(path.relative_to(home)): path.stat().st_mtime_ns for path in (home / "book").rglob("*") if path.is_file()}


def test_unchanged_inputs_are_skipped(home, capsys):
    executed = pipeline.run("tiny", "quick", progress=False)
    assert re.fullmatch(r"advlab: tiny \(quick\) ran in \d+ s \(no recorded run\)\n", capsys.readouterr().out)
    recorded = json.loads((results_dir("tiny", "quick", home) / pipeline.FINGERPRINT).read_text())
    assert set(recorded["inputs"]) == {"notebook", "parameters", "library", "zoo manifests", "reference numbers",
                                       "datasets", "requirements.lock", "committed results"}
    assert json.loads(executed.read_text())["metadata"]["advlab"] == recorded
    before = stamps(home)
    assert pipeline.run("tiny", "quick", progress=False) == executed
    assert re.fullmatch(SKIPPED.format("tiny", "quick") + "\n", capsys.readouterr().out)
    assert executions(home) == ["quick 1"] and stamps(home) == before  # nothing executed, nothing rewritten
    executed.unlink()
    pipeline.run("tiny", "quick", progress=False)
    assert "ran in" in capsys.readouterr().out and executions(home) == ["quick 1", "quick 1"]


def test_a_changed_parameter_reruns(home, capsys):
    pipeline.run("tiny", "quick", progress=False)
    pipeline.run("tiny", "quick", {"x": 2}, progress=False)
    assert capsys.readouterr().out.splitlines()[-1].endswith("(changed: parameters)")
    (home / "notebooks" / "profiles.yml").write_text("tiny:\n  quick: {x: 3, fail: false}\n")
    pipeline.run("tiny", "quick", progress=False)
    assert executions(home) == ["quick 1", "quick 2", "quick 3"]
    assert (results_dir("tiny", "quick", home) / "table.csv").read_text().split() == ["twice_x", "6"]


def test_a_changed_notebook_reruns_that_chapter_and_the_summary(home, capsys):
    """The summary (a collector) reruns because the changed chapter's claims.csv changed."""
    names = ["tiny", "other", "summary"]
    for name in names[1:]:
        (home / "notebooks" / f"{name}.py").write_text(TINY)
    (home / "notebooks" / "profiles.yml").write_text("".join(f"{name}:\n  quick: {{x: 1, fail: false}}\n"
                                                             for name in names))
    for name in names:
        pipeline.run(name, "quick", progress=False)
    other = {path: stamp for path, stamp in stamps(home).items() if "other" in path}
    capsys.readouterr()
    with open(home / "notebooks" / "tiny.py", "a") as source:
        source.write('\n# %%\nresults.table(pd.DataFrame({"claim": ["C1"]}), "claims")\n')
    for name in names:
        pipeline.run(name, "quick", progress=False)
    tiny, skipped, summary = capsys.readouterr().out.splitlines()
    assert tiny.startswith("advlab: tiny (quick) ran in") and tiny.endswith("(changed: notebook)")
    assert re.fullmatch(SKIPPED.format("other", "quick"), skipped)
    assert summary.startswith("advlab: summary (quick) ran in") and summary.endswith("(changed: chapter results)")
    assert {path: stamp for path, stamp in stamps(home).items() if "other" in path} == other
    assert len(executions(home)) == 5


def test_force_reruns_from_the_command_line(home):
    def advlab_run(*args):
        done = subprocess.run([str(Path(sys.executable).with_name("advlab")), "run", "tiny", *args],
                              capture_output=True, text=True, env={**os.environ, "ADVLAB_HOME": str(home)})
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert re.fullmatch(r"advlab: tiny \(quick\) ran in \d+ s \(no recorded run\)\n", advlab_run())
    assert re.fullmatch(SKIPPED.format("tiny", "quick") + "\n", advlab_run())
    assert re.fullmatch(r"advlab: tiny \(quick\) ran in \d+ s \(--force\)\n", advlab_run("--force"))
    assert executions(home) == ["quick 1", "quick 1"]


def test_a_different_profile_reruns(home, capsys):
    """``book/chapters/tiny.ipynb`` is shared by the profiles: it must hold the requested profile's run."""
    executed = pipeline.run("tiny", "quick", progress=False)
    pipeline.run("tiny", "smoke", progress=False)
    quick = results_dir("tiny", "quick", home)
    before = {path.name: path.stat().st_mtime_ns for path in quick.iterdir()}
    capsys.readouterr()
    pipeline.run("tiny", "quick", progress=False)
    assert capsys.readouterr().out.rstrip().endswith("(tiny.ipynb holds another run, of profile 'smoke')")
    assert executions(home) == ["quick 1", "smoke 1", "quick 1"]
    assert json.loads(executed.read_text())["metadata"]["advlab"]["profile"] == "quick"
    assert {path.name: path.stat().st_mtime_ns for path in quick.iterdir()} != before


def test_a_failed_or_interrupted_run_leaves_no_fingerprint(home, monkeypatch):
    results = results_dir("tiny", "quick", home)
    with pytest.raises(pipeline.NotebookFailed):
        pipeline.run("tiny", "quick", {"fail": True}, progress=False)
    assert list(results.parent.iterdir()) == []  # no results, no fingerprint, no staging folder
    pipeline.run("tiny", "quick", {"x": 5}, progress=False)
    fingerprint = (results / pipeline.FINGERPRINT).read_bytes()
    with pytest.raises(pipeline.NotebookFailed):
        pipeline.run("tiny", "quick", {"x": 6, "fail": True}, progress=False)
    assert (results / pipeline.FINGERPRINT).read_bytes() == fingerprint

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(papermill, "execute_notebook", interrupted)
        pipeline.run("tiny", "quick", {"x": 7}, progress=False)
    assert (results / pipeline.FINGERPRINT).read_bytes() == fingerprint
    assert sorted(path.name for path in results.parent.iterdir()) == ["quick"]  # no staging folder left
    pipeline.run("tiny", "quick", {"x": 7}, progress=False)
    assert executions(home) == ["quick 5", "quick 7"]


def test_data_cached_during_a_run_is_recorded(home, capsys):
    """A chapter that fills ``data/cache`` (as loading CIFAR-10 from a mirror does) is not stale afterwards."""
    (home / "notebooks" / "tiny.py").write_text(TINY + '\n# %%\nimport pathlib\ncache = pathlib.Path("../../data/cache")\n'
                                                'cache.mkdir(parents=True, exist_ok=True)\n(cache / "entry.npy").write_bytes(b"1")\n')
    pipeline.run("tiny", "quick", progress=False)
    pipeline.run("tiny", "quick", progress=False)
    assert re.fullmatch(SKIPPED.format("tiny", "quick"), capsys.readouterr().out.splitlines()[-1])
    assert executions(home) == ["quick 1"]


def test_the_fingerprint_covers_every_input(home, monkeypatch):
    """Each input changes its own component only; zoo checkpoints and other profiles' results change nothing."""
    params = pipeline.parameters("tiny", "quick")

    def changed(name="tiny", params=params):
        now = pipeline.fingerprint(name, "quick", params)
        return {component for component in now if now[component] != before.get(component)}

    for folder in ("zoo", "reference", "cache"):
        (home / "data" / folder).mkdir(parents=True)
    before = pipeline.fingerprint("tiny", "quick", params)
    assert changed() == set()
    steps = [
        ("notebook", lambda: (home / "notebooks" / "tiny.py").write_text(TINY + "# one more line\n")),
        ("parameters", lambda: params.update(x=2)),
        ("zoo manifests", lambda: (home / "data" / "zoo" / "model.quick.json").write_text("{}")),
        ("reference numbers", lambda: (home / "data" / "reference" / "tiny.json").write_text("{}")),
        ("requirements.lock", lambda: (home / "requirements.lock").write_text("torch==2.14.1\n")),
        ("datasets", lambda: (home / "data" / "cache" / "cifar10-test-official.npy").write_bytes(b"12")),
        ("datasets", lambda: monkeypatch.setenv("ADVLAB_DATA_MIRROR", str(home / "mirror"))),
        ("datasets", lambda: (home / "mirror" / "cifar10-jpeg").mkdir(parents=True)),
        ("datasets", lambda: (home / "mirror" / "cifar10-jpeg" / "official_labels.json").write_text("[]")),
    ]
    for component, change in steps:
        change()
        assert changed() == {component}, component
        before = pipeline.fingerprint("tiny", "quick", params)
    (home / "data" / "zoo" / "model.quick.pt").write_bytes(b"weights")  # the manifest carries its sha256
    (home / "mirror" / "unrelated.txt").write_text("not a CIFAR-10 copy")
    assert changed() == set()

    before = pipeline.fingerprint("summary", "quick", {})
    assert "chapter results" in before and "chapter results" not in pipeline.fingerprint("tiny", "quick", params)
    for own_or_other_profile in ("summary/quick", "tiny/smoke"):
        (home / "book" / "results" / own_or_other_profile).mkdir(parents=True)
        (home / "book" / "results" / own_or_other_profile / "claims.csv").write_text("claim\nC1\n")
    assert changed("summary", {}) == set()
    for result in ("claims.csv", "run.json"):
        (home / "book" / "results" / "tiny" / "quick").mkdir(parents=True, exist_ok=True)
        (home / "book" / "results" / "tiny" / "quick" / result).write_text("C1")
        assert changed("summary", {}) == {"chapter results"}, result
        before = pipeline.fingerprint("summary", "quick", {})


def test_the_book_builds_with_warnings_as_errors(smoke_book):
    """Every notebook's smoke run (shared with the chapter tests), then `jupyter-book build -W` builds the site."""
    chapters = smoke_book.run_all()
    html = smoke_book.html()
    intro = (html / "book" / "chapters" / "intro.html").read_text()
    assert "mnist-smallcnn" in intro and "CIFAR-10" in intro
    assert intro.count('src="../../_images/') >= 2  # the two sample grids
    assert 'cell tag_parameters' not in intro  # the defaults cell is hidden; the injected values are shown
    assert (html / "_static" / "mathjax" / "tex-mml-chtml.js").exists()
    assert "_static/mathjax/tex-mml-chtml.js" in (html / "book" / "intro.html").read_text()
    assert "cdn.jsdelivr" not in (html / "book" / "intro.html").read_text()
    # Running the chapters changed none of their inputs (the data they cached, the results the summary
    # read), so a second `advlab book` would skip them all; sources may be edited while the suite runs.
    edited_by_hand = {"notebook", "library", "zoo manifests", "reference numbers", "requirements.lock"}
    for name, chapter in chapters.items():
        recorded = json.loads((chapter.results / pipeline.FINGERPRINT).read_text())
        assert json.loads(chapter.notebook.read_text())["metadata"]["advlab"] == recorded, name
        now = pipeline.fingerprint(name, "smoke", pipeline.parameters(name, "smoke"), smoke_book.root)
        assert {c for c in now if now[c] != recorded["inputs"][c]} <= edited_by_hand, name
