"""The zoo's files: checkpoints and manifests in ``data/zoo/``, verified loading and the status table.

A model trained with recipe R is ``data/zoo/<name>.<R>.pt`` (its state dict) beside
``<name>.<R>.json`` (its manifest: architecture, data, recipe settings, accuracies in percent, the
checkpoint's sha256). ``load`` refuses a checkpoint whose hash differs from its manifest.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn

from advlab import project_root
from advlab.defenses.pgn import GENERATOR_INPUTS, PerturbationGenerator, generator_path
from advlab.fileio import atomic_write_text, sha256sum
from advlab.zoo.catalog import ENTRIES, get_entry

__all__ = ["ZooError", "zoo_dir", "checkpoint_path", "manifest", "write_manifest", "load", "load_generator", "table"]


class ZooError(RuntimeError):
    """A checkpoint is missing, corrupted or does not match its manifest."""


def zoo_dir() -> Path:
    """``data/zoo`` under the project root (``ADVLAB_HOME`` moves it)."""
    return project_root() / "data" / "zoo"


def checkpoint_path(name: str, recipe: str = "quick") -> Path:
    """``data/zoo/<name>.<recipe>.pt``; its manifest sits beside it with suffix ``.json``."""
    return zoo_dir() / f"{name}.{recipe}.pt"


def manifest(name: str, recipe: str = "quick") -> dict | None:
    """The manifest of model ``name`` trained with ``recipe``, or None if it was never trained.

    ValueError for a model or recipe the catalogue does not know.
    """
    get_entry(name, recipe)
    path = checkpoint_path(name, recipe).with_suffix(".json")
    return json.loads(path.read_text()) if path.exists() else None


def write_manifest(name: str, recipe: str, fields: dict) -> None:
    """Write the manifest of ``name`` / ``recipe`` atomically (temporary file + rename)."""
    atomic_write_text(checkpoint_path(name, recipe).with_suffix(".json"), json.dumps(fields, indent=2) + "\n")


def _train_command(name: str, recipe: str) -> str:
    return f"advlab zoo train {name} --recipe {recipe}"


def _verified(path: Path, digest: str, name: str, recipe: str) -> None:
    """ZooError unless ``path`` hashes to ``digest`` (a corrupted or replaced file)."""
    actual = sha256sum(path)
    if actual != digest:
        raise ZooError(f"checkpoint {path} is corrupted: sha256 {actual[:12]}… does not match its manifest "
                       f"({digest[:12]}…); restore it (git checkout -- {path.name}) or retrain it with: "
                       f"{_train_command(name, recipe)}")


def load(name: str, recipe: str = "quick", *, device: str | torch.device = "cpu") -> nn.Module:
    """The eval-mode model ``name`` with weights verified against their manifest (parameters frozen).

    ``ZooError`` if the checkpoint is missing (the message names the command that trains it), if
    its sha256 differs from the manifest's, or if it does not hold this architecture's weights.
    """
    entry = get_entry(name, recipe)
    path, fields = checkpoint_path(name, recipe), manifest(name, recipe)
    if not path.exists() or fields is None:
        raise ZooError(f"no checkpoint for {name!r} (recipe {recipe!r}) at {path}; train it with: "
                       f"{_train_command(name, recipe)}")
    _verified(path, fields["sha256"], name, recipe)
    model = entry.build()
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as error:  # a file that hashes right but is not this architecture's state dict
        raise ZooError(f"checkpoint {path} does not hold {entry.architecture} weights: {error}") from error
    return model.eval().requires_grad_(False).to(device)


def load_generator(name: str, recipe: str = "quick", *, device: str | torch.device = "cpu") -> PerturbationGenerator:
    """The eval-mode perturbation generator saved beside PGN model or attacker ``name`` (``generator_path``),
    built from its recipe and verified against the manifest's ``generator_sha256`` (chapter pgn).

    ``ZooError`` as ``load``, or if ``name`` has no generator."""
    entry = get_entry(name, recipe)
    plan, fields = entry.recipes[recipe], manifest(name, recipe)
    if not hasattr(plan, "generator_width"):
        raise ZooError(f"{name!r} is not trained with a perturbation generator (no PGN or attacker recipe)")
    path = generator_path(checkpoint_path(name, recipe))
    if not path.exists() or fields is None:
        raise ZooError(f"no generator for {name!r} (recipe {recipe!r}) at {path}; train it with: "
                       f"{_train_command(name, recipe)}")
    _verified(path, fields["generator_sha256"], name, recipe)
    state = torch.load(path, map_location="cpu", weights_only=True)
    side = math.isqrt(state["dense2.weight"].shape[0] // plan.generator_width)  # the image's side / 4
    generator = PerturbationGenerator(state["dense1.weight"].shape[1], state["out.weight"].shape[0], 4 * side, plan.generator_width,
                                      plan.generator_hidden, inputs=getattr(plan, "generator_inputs", GENERATOR_INPUTS))
    generator.load_state_dict(state)
    return generator.eval().requires_grad_(False).to(device)


def table():
    """One row per (model, recipe): architecture, data source, recipe, accuracy, training time, status."""
    import pandas as pd

    rows = []
    for entry in ENTRIES.values():
        for recipe, plan in entry.recipes.items():
            fields, path = manifest(entry.name, recipe), checkpoint_path(entry.name, recipe)
            if fields is None or not path.exists():
                status = "not trained"
            else:
                status = "ok" if sha256sum(path) == fields["sha256"] else "CORRUPTED"
            fields = fields or {}
            rows.append({
                "model": entry.name, "recipe": recipe, "architecture": entry.architecture,
                "dataset": fields.get("data_source", entry.dataset), "training": plan.note,
                "epochs": fields.get("epochs"), "test accuracy (%)": fields.get("test_accuracy"),
                "robust accuracy (%)": fields.get("robust_accuracy"), "robust at L2 ε": fields.get("robust_eps"),
                "training time (s)": fields.get("training_seconds"), "chapters": ", ".join(entry.chapters),
                "status": status,
            })
    return pd.DataFrame(rows)
