"""Shared fixtures. ``smoke_book``: the book's chapters, each executed at most once per test session with
the ``smoke`` profile into one temporary book root, for the chapter tests and the book-build test alike."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import advlab
from advlab import pipeline
from advlab.results import results_dir

PROFILE = "smoke"


@dataclass(frozen=True)
class Chapter:
    """One smoke run: the executed notebook, its results folder, its duration, the zoo models it could load."""

    notebook: Path  # <root>/book/chapters/<name>.ipynb
    results: Path  # <root>/book/results/<name>/smoke
    seconds: float
    trained: frozenset[str]  # zoo models with a checkpoint and a manifest when the run started

    def table(self, name: str):
        """The run's table ``name`` (``<results>/<name>.csv``) as a DataFrame."""
        import pandas as pd

        return pd.read_csv(self.results / f"{name}.csv")


class SmokeBook:
    """A temporary book root (``root``) whose chapters run with the smoke profile on first request."""

    def __init__(self, root: Path):
        self.root = root
        self.chapters: dict[str, Chapter] = {}

    def chapter(self, name: str) -> Chapter:
        """Notebook ``name``'s smoke run, executing it first if it has not run yet (a collector such as the
        summary runs after every other chapter, whose results it reads)."""
        from advlab import zoo  # imported here: a broken zoo fails the chapters' tests, not every test

        if name not in self.chapters:
            if name in pipeline.COLLECTORS:
                for other in pipeline.notebook_names():
                    if other != name:
                        self.chapter(other)
            trained = frozenset(model for model in zoo.ENTRIES if zoo.checkpoint_path(model).exists()
                                and zoo.checkpoint_path(model).with_suffix(".json").exists())
            start = time.perf_counter()
            notebook = pipeline.run(name, PROFILE, root=self.root, progress=False)
            self.chapters[name] = Chapter(notebook, results_dir(name, PROFILE, self.root),
                                          time.perf_counter() - start, trained)
        return self.chapters[name]

    def run_all(self) -> dict[str, Chapter]:
        """Every notebook of ``notebooks/profiles.yml``, in book order."""
        return {name: self.chapter(name) for name in pipeline.notebook_names()}

    def html(self) -> Path:
        """The HTML book of every smoke run (``jupyter-book build -W``), built once per session."""
        if not hasattr(self, "_html"):
            self.run_all()
            self._html = pipeline.book("smoke", root=self.root, run_notebooks=False)
        return self._html


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory) -> SmokeBook:
    """A book root holding the project's book configuration and prose; chapters run on request."""
    root = tmp_path_factory.mktemp("smoke_book")
    source = advlab.project_root()
    for item in ("_config.yml", "_toc.yml"):
        shutil.copy(source / item, root / item)
    shutil.copytree(source / "book", root / "book", ignore=shutil.ignore_patterns("chapters", "results"))
    return SmokeBook(root)
