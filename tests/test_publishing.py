"""Publishing the book: the GitHub Actions workflow validates against GitHub's workflow schema (check-jsonschema's
vendored copy, offline) and runs a Makefile target that exists; Binder's postBuild installs the pins with torch's
CPU build and writes every chapter's notebook where its launch button points; the repository URL is set once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from advlab import pipeline, project_root

ROOT = project_root()
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def validate(path: Path) -> subprocess.CompletedProcess:
    checker = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True)


def test_the_workflow_validates_and_a_broken_one_does_not(tmp_path):
    done = validate(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = yaml.safe_load(WORKFLOW.read_text())
    del broken["jobs"]["build"]["runs-on"]
    broken["jobs"]["build"]["timeout-minutes"] = "four hours"
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken))
    assert validate(tmp_path / "broken.yml").returncode != 0


def test_the_workflow_builds_with_a_target_that_exists_and_deploys_the_html():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow["jobs"]["build"]["steps"]
    commands = [step["run"] for step in steps if "run" in step]
    assert commands == ["make book TORCH=cpu"]
    assert subprocess.run(["make", "-n", "book", "TORCH=cpu"], cwd=ROOT, capture_output=True).returncode == 0
    upload = next(step for step in steps if step.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    cached = next(step for step in steps if step.get("uses", "").startswith("actions/cache"))["with"]["path"]
    assert {"book/chapters", "book/results"} <= set(cached.split())
    assert workflow["jobs"]["deploy"]["steps"][0]["uses"].startswith("actions/deploy-pages")


def test_binder_installs_the_cpu_build_and_writes_every_chapter_where_its_launch_button_points():
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK) and "make binder" in post_build.read_text()
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    dry = subprocess.run(["make", "-n", "binder", "PYTHON=python"], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in dry.stdout
    assert "jupytext" in dry.stdout and "book/chapters/$(basename $notebook .py).ipynb" in dry.stdout
    toc = (ROOT / "_toc.yml").read_text()
    assert all(f"book/chapters/{name}" in toc for name in pipeline.notebook_names())


def test_the_repository_url_is_set_in_one_place():
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    holders = [name for name in tracked if (ROOT / name).is_file() and not name.endswith((".pt", ".png", ".gz"))
               and url in (ROOT / name).read_text(errors="ignore")]
    assert holders == ["_config.yml"]
