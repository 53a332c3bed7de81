"""The zoo's files: checkpoints and manifests in ``data/zoo/``, verified loading and the status table.

A model trained with recipe R is ``data/zoo/<name>.<R>.pt`` (its state dict) beside
``<name>.<R>.json`` (its manifest: architecture, data, recipe settings, accuracies in percent, the
checkpoint's sha256). ``load`` refuses a checkpoint whose hash differs from its manifest.

Checkpoints too large for git (over ``GIT_LIMIT_BYTES``, the full recipes) are release files: the
manifest names them by ``url`` beside their sha256 and only the manifest is committed. ``fetch`` puts
such a checkpoint in ``data/zoo/`` on first use: downloaded with a progress bar into a temporary file,
verified, then renamed into place (a wrong hash or a partial download is deleted, never used), or else
copied from a mirror folder's ``zoo/`` (``ADVLAB_DATA_MIRROR``); failing both, the error names the
command that trains it.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import math
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import torch
from torch import nn

from advlab import project_root
from advlab.data import mirror_folders
from advlab.defenses.pgn import GENERATOR_INPUTS, PerturbationGenerator, generator_path
from advlab.fileio import atomic_path, atomic_write_text, sha256sum
from advlab.zoo.catalog import ENTRIES, get_entry

__all__ = ["ZooError", "zoo_dir", "checkpoint_path", "manifest", "write_manifest", "publish", "fetch", "load",
           "load_generator", "table", "GIT_LIMIT_BYTES", "REMOTE"]

GIT_LIMIT_BYTES = 5 * 2 ** 20  # a checkpoint above this is a release file named by URL in its manifest, not in git
REMOTE = "release file (fetched on first use)"  # ``table``'s status of a checkpoint named by URL, not downloaded yet
DOWNLOAD_TIMEOUT = 60  # seconds without data before a download is abandoned


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


def publish(name: str, recipe: str, url: str) -> dict:
    """Name the release file of ``name`` / ``recipe`` in its manifest: ``url`` is where the verified checkpoint in
    ``data/zoo/`` has been uploaded (``advlab zoo publish``); the checkpoint itself then stays out of git."""
    fields = manifest(name, recipe)
    path = checkpoint_path(name, recipe)
    if fields is None or not path.exists():
        raise ZooError(f"no checkpoint for {name!r} (recipe {recipe!r}) to publish; train it with: "
                       f"{_train_command(name, recipe)}")
    if not url.startswith(("https://", "http://", "file://")):
        raise ValueError(f"url must be an http(s) or file URL, got {url!r}")
    _verified(path, fields["sha256"], name, recipe)
    fields = {**fields, "url": url}
    write_manifest(name, recipe, fields)
    return fields


def fetch(name: str, recipe: str = "quick", *, progress: bool = True) -> Path:
    """The path of the verified checkpoint of ``name`` / ``recipe``: the file in ``data/zoo/`` if it matches its
    manifest, else one downloaded from the manifest's ``url`` or, failing that, copied from a mirror's
    ``zoo/`` folder, each verified against the manifest's sha256 before it is renamed into place.

    ``ZooError`` naming the training command if the model was never trained (no manifest) or no source
    gives the file, and naming the file if the one in ``data/zoo/`` is corrupted.
    """
    get_entry(name, recipe)
    path, fields = checkpoint_path(name, recipe), manifest(name, recipe)
    if fields is None:
        raise ZooError(f"no checkpoint for {name!r} (recipe {recipe!r}) at {path}; train it with: "
                       f"{_train_command(name, recipe)}")
    if path.exists():
        _verified(path, fields["sha256"], name, recipe)
        return path
    problems = []
    if fields.get("url"):
        try:
            _download(fields["url"], path, fields["sha256"], progress)
            return path
        except ZooError as error:
            problems.append(str(error))
    for folder in mirror_folders():
        copy = folder / "zoo" / path.name
        if copy.is_file():
            if sha256sum(copy) == fields["sha256"]:
                with atomic_path(path) as tmp:
                    shutil.copyfile(copy, tmp)
                return path
            problems.append(f"the mirror's copy {copy} does not match the manifest's sha256")
    sources = "; ".join(problems) or "the manifest names no url and no mirror holds it"
    raise ZooError(f"no checkpoint for {name!r} (recipe {recipe!r}) at {path} ({sources}); train it with: "
                   f"{_train_command(name, recipe)}")


def _download(url: str, path: Path, digest: str, progress: bool) -> None:
    """Download ``url`` to ``path`` through a temporary file, renamed into place only when complete and hashing
    to ``digest``; ZooError (temporary file removed) on a network error, a truncated or a corrupted file."""
    from tqdm import tqdm

    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response, atomic_path(path) as tmp:
            total = int(response.headers.get("Content-Length") or 0) or None
            received, sha = 0, hashlib.sha256()
            with open(tmp, "wb") as out, tqdm(total=total, unit="B", unit_scale=True, desc=path.name,
                                             disable=not progress) as bar:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    out.write(chunk)
                    sha.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            if total is not None and received != total:
                raise ZooError(f"download of {url} is truncated: {received} of {total} bytes")
            if sha.hexdigest() != digest:
                raise ZooError(f"download of {url} is corrupted: sha256 {sha.hexdigest()[:12]}… does not match the "
                               f"manifest's ({digest[:12]}…)")
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:  # unreachable, cut off
        raise ZooError(f"download of {url} failed: {error}") from error


def load(name: str, recipe: str = "quick", *, device: str | torch.device = "cpu") -> nn.Module:
    """The eval-mode model ``name`` with weights verified against their manifest (parameters frozen).

    The checkpoint comes from ``fetch`` (downloaded or copied from a mirror if it is a release file).
    ``ZooError`` if it is missing (the message names the command that trains it), if its sha256 differs
    from the manifest's, or if it does not hold this architecture's weights.
    """
    entry = get_entry(name, recipe)
    path = fetch(name, recipe)
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
            if fields is not None and not path.exists() and fields.get("url"):
                status = REMOTE
            elif fields is None or not path.exists():
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
