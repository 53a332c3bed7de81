"""A chapter's run: its parameters, device, models and results folder, recorded in ``run.json``.

``ctx = chapter.start("ddn", globals())`` at the top of a notebook reads the chapter's parameters
(the names of its profile in ``notebooks/profiles.yml``) from the notebook's namespace, picks the
device, and opens the results folder. ``ctx.models(ROLES)`` loads the chapter's models by role;
``ctx.finish()`` writes ``run.json``: parameters, profile, hardware, versions, dataset sources,
models (with their checkpoints' sha256) and seconds. The summary page reads it.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pandas as pd
import torch
from torch import nn

import advlab
from advlab import zoo
from advlab.chapter import tables
from advlab.fileio import atomic_write_text
from advlab.results import Results, results_dir as default_results_dir

PAPER_DATASET = {"mnist": "MNIST", "cifar10": "CIFAR-10"}


def hardware(device: str) -> str:
    """A short description of where the chapter ran (e.g. "CPU, 2 threads")."""
    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"CPU ({platform.machine()}), {torch.get_num_threads()} threads"


def made_by(profile: str, hardware: str) -> str:
    """The end of a table's caption: ``profile quick · CPU (x86_64), 2 threads``."""
    return f"profile {profile} · {hardware}"


@dataclass
class Models:
    """The chapter's models by (dataset, role), the table that lists them, and the ones not trained yet."""

    loaded: dict[tuple[str, str], nn.Module]
    names: dict[str, dict[str, str]]
    recipe: str
    table: pd.DataFrame
    missing: list[str] = field(default_factory=list)

    def __getitem__(self, key: tuple[str, str]) -> nn.Module:
        return self.loaded[key]

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self.loaded

    def name(self, dataset: str, role: str) -> str:
        return self.names[dataset][role]

    def train_command(self, dataset: str, role: str) -> str:
        return f"advlab zoo train {self.names[dataset][role]} --recipe {self.recipe}"


@dataclass
class Chapter:
    """What one execution of a chapter records; created by :func:`start`."""

    name: str
    profile: str
    parameters: dict
    device: str
    results: Results
    started: float = field(default_factory=time.perf_counter)
    sources: dict[str, str] = field(default_factory=dict)
    used_models: dict[str, dict] = field(default_factory=dict)

    @property
    def hardware(self) -> str:
        return hardware(self.device)

    @property
    def made_by(self) -> str:
        """Which profile and hardware made this run's tables (the end of every table's caption)."""
        return made_by(self.profile, self.hardware)

    def source(self, dataset, label: str | None = None) -> str:
        """Record and return the source of an ``advlab.data.Dataset`` (printed beside every number),
        under ``label`` (default: "<name> <split>, <n> images")."""
        self.sources[label or f"{dataset.name} {dataset.split}, {len(dataset)} images"] = dataset.source
        return dataset.source

    def models(self, names: dict[str, dict[str, str]], recipe: str, labels: dict[str, str] | None = None) -> Models:
        """Load ``names[dataset][role]`` (zoo names) with ``recipe``; list them with their training,
        data source, clean accuracy and status. A model not trained yet is listed as such (with the
        command that trains it) and left out of ``loaded``: the sections that need it say so."""
        status = zoo.table().query("recipe == @recipe").set_index("model")
        loaded, rows, missing = {}, [], []
        for dataset, roles in names.items():
            for role, name in roles.items():
                row = status.loc[name]
                if row["status"] in ("ok", zoo.REMOTE):
                    model = zoo.load(name, recipe, device=self.device)
                    loaded[dataset, role] = model.to(memory_format=torch.channels_last)
                    manifest = zoo.manifest(name, recipe)
                    self.used_models[name] = {"recipe": recipe, "sha256": manifest["sha256"],
                                              "test_accuracy": manifest["test_accuracy"]}
                else:
                    missing.append(name)
                rows.append({"dataset": PAPER_DATASET.get(dataset, dataset), "role": (labels or {}).get(role, role),
                             "zoo model": name, "training": row["training"], "trained on": row["dataset"],
                             "clean accuracy (%)": row["test accuracy (%)"],
                             "status": row["status"] if row["status"] in ("ok", zoo.REMOTE) else
                             f"{row['status']}: advlab zoo train {name} --recipe {recipe}"})
        return Models(loaded, names, recipe, pd.DataFrame(rows), missing)

    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def save(self, name: str, item) -> None:
        """Save a table (CSV, shown with its intervals) or a matplotlib figure (PNG, laid out tight and
        shown) of this run as ``name`` in the chapter's results."""
        import matplotlib.pyplot as plt

        from advlab.chapter.tables import show

        if isinstance(item, plt.Figure):
            item.tight_layout()
            self.results.figure(item, name)
            plt.show()
        else:
            show(self.results.table(item, name))

    def finish(self, claims=None) -> dict:
        """Write the chapter's ``claims.csv`` (an :class:`~advlab.chapter.claims.Claims`) and ``run.json``;
        return the run record."""
        if claims is not None:
            self.results.table(claims.table(), "claims")
        record = {
            "chapter": self.name, "profile": self.profile, "parameters": self.parameters,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(self.seconds(), 1), "device": self.device, "hardware": self.hardware,
            "versions": {"advlab": advlab.__version__, "torch": torch.__version__, "python": platform.python_version()},
            "dataset_sources": self.sources, "models": self.used_models,
            "verdicts": claims.counts() if claims is not None else {},
        }
        atomic_write_text(self.results.directory / "run.json", json.dumps(record, indent=2, default=str) + "\n")
        return record


def start(name: str, namespace: dict, *, seed: int = 0) -> Chapter:
    """Open chapter ``name``'s run: its parameters are the names of its profile in
    ``notebooks/profiles.yml``, read from ``namespace`` (the notebook's ``globals()``), plus
    ``profile`` and ``results_dir`` (set by the pipeline). Seeds torch; prints one line saying
    what runs where."""
    from advlab.pipeline import parameters as profile_parameters

    profile = namespace.get("profile", "quick")
    expected = list(profile_parameters(name, "quick"))
    absent = [key for key in expected if key not in namespace]
    if absent:
        raise ValueError(f"chapter {name!r}: the parameters cell lacks {', '.join(absent)} "
                         f"(listed in notebooks/profiles.yml)")
    params = {key: namespace[key] for key in expected}
    torch.manual_seed(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    results = Results(namespace.get("results_dir") or default_results_dir(name, profile))
    chapter = Chapter(name, profile, params, device, results)
    tables.MADE_BY = chapter.made_by
    print(f"advlab {advlab.__version__}, torch {torch.__version__}, {chapter.hardware}, profile {profile!r}")
    return chapter
