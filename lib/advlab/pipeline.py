"""Run the book's Jupytext notebooks with papermill, then build the book with Jupyter Book.

``run(name, profile)`` converts ``notebooks/<name>.py``, executes it with the profile's parameters
(``notebooks/profiles.yml``) into ``book/chapters/<name>.ipynb``, and its tables and figures into
``book/results/<name>/<profile>/``. Both are replaced only when the whole run succeeds: a failed
run raises :class:`NotebookFailed` naming the notebook and the failing cell, and leaves the previous
executed notebook and results untouched.

A run is skipped when its inputs (:func:`fingerprint`) are unchanged since its last successful run;
they include the chapter's committed runs at the other profiles (``COMMITTED_PROFILES``), which it shows.
That run's record (component → sha256, and the time) is kept in its results folder (``inputs.json``)
and in the executed notebook's metadata (``advlab``): ``book/chapters/<name>.ipynb`` is shared by the
profiles, so it must say whose run it holds. ``force=True`` reruns.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Iterable

import yaml

from advlab import project_root
from advlab.fileio import atomic_path, atomic_write_text, replace_dir
from advlab.results import results_dir

PROFILES = ("smoke", "quick", "gpu", "full")
COMMITTED_PROFILES = ("gpu", "full")  # their results are kept in git (.gitignore drops quick/ and smoke/)
COLLECTORS = ("summary",)  # notebooks that read the other chapters' claims.csv and run.json
FINGERPRINT = "inputs.json"  # in a chapter's results folder: the inputs its last successful run used


class NotebookFailed(RuntimeError):
    """A notebook raised during execution; the message names the notebook and the cell."""


def load_profiles() -> dict[str, dict[str, dict]]:
    """``notebooks/profiles.yml``: for each notebook (in book order), its parameters per profile."""
    return yaml.safe_load((project_root() / "notebooks" / "profiles.yml").read_text())


def notebook_names() -> list[str]:
    """The notebooks in the order the book runs them."""
    return list(load_profiles())


def parameters(name: str, profile: str = "quick", overrides: dict | None = None) -> dict:
    """The profile's parameters for notebook ``name``, updated with ``overrides``."""
    profiles = load_profiles()
    if name not in profiles:
        raise ValueError(f"unknown notebook {name!r}; the book has: {', '.join(profiles)}")
    if profile not in profiles[name]:
        raise ValueError(f"notebook {name!r} has no profile {profile!r}; it has: {', '.join(profiles[name])}")
    params = dict(profiles[name][profile] or {})
    unknown = set(overrides or {}) - set(params)
    if unknown:
        raise ValueError(f"notebook {name!r} has no parameter {', '.join(sorted(unknown))}; "
                         f"its parameters are: {', '.join(params) or 'none'}")
    return {**params, **(overrides or {})}


def parse_value(text: str):
    """A command-line parameter value: YAML scalars (``100`` → int, ``0.5`` → float, ``true``), else the string."""
    return yaml.safe_load(text)


def _files_digest(files: Iterable[Path], base: Path) -> str:
    """sha256 over the names (relative to ``base``) and bytes of ``files``; a missing file counts as such."""
    digest = hashlib.sha256()
    for path in sorted(files):
        content = path.read_bytes() if path.is_file() else b"missing"
        digest.update(f"{path.relative_to(base)}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def _text_digest(value) -> str:
    """sha256 of a JSON-serialisable value (keys sorted)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _listing(path: Path, mtime: bool = True) -> list | None:
    """Name, size (and mtime) of the file ``path``, or of each entry of the folder ``path``; None if absent."""
    if not path.exists():
        return None
    entries = sorted(entry for entry in path.iterdir() if not entry.name.startswith(".")) if path.is_dir() else [path]
    return [[entry.name, stat.st_size, *([stat.st_mtime_ns] if mtime else [])]
            for entry in entries for stat in [entry.stat()]]


def _datasets_digest() -> str:
    """Which data files a run would read (MNIST files, the CIFAR-10 cache, the mirrors), from file stats only."""
    from advlab import data

    folder = project_root() / "data"
    sources = {
        "mnist": _listing(folder / "mnist", mtime=False),  # sha256-verified whenever loaded
        "cache": _listing(folder / "cache"),
        "mirrors": [[str(mirror.resolve()), [_listing(mirror / entry) for entry in
                                             (data.CIFAR10_ARCHIVE, data.CIFAR10_FOLDER, data.SUBSTITUTE_FOLDER)]]
                    for mirror in data.mirror_folders(None)],
    }
    return _text_digest(sources)


def fingerprint(name: str, profile: str, params: dict, root: Path | None = None) -> dict[str, str]:
    """Component → sha256 of everything a run of notebook ``name`` with ``params`` depends on."""
    from advlab.zoo import zoo_dir

    root = Path(root or project_root())
    home = project_root()
    library = Path(__file__).resolve().parent
    components = {
        "notebook": _files_digest([home / "notebooks" / f"{name}.py"], home),
        "parameters": _text_digest({**params, "profile": profile}),
        "library": _files_digest(library.rglob("*.py"), library),
        "zoo manifests": _files_digest(zoo_dir().glob("*.json"), zoo_dir()),
        "reference numbers": _files_digest((home / "data" / "reference").glob("*.json"), home),
        "datasets": _datasets_digest(),
        "requirements.lock": _files_digest([home / "requirements.lock"], home),
    }
    # a chapter shows its committed runs at the other profiles (advlab.chapter.scale)
    components["committed results"] = _files_digest(
        (path for other in COMMITTED_PROFILES if other != profile
         for path in results_dir(name, other, root).glob("*") if path.is_file()), root)
    if name in COLLECTORS:
        results = root / "book" / "results"
        components["chapter results"] = _files_digest(
            (path for pattern in (f"*/{profile}/claims.csv", f"*/{profile}/run.json")
             for path in results.glob(pattern) if path.parent.parent.name != name), results)
    return components


def _reason_to_run(target: Path, recorded: dict | None, inputs: dict[str, str]) -> str | None:
    """Why the notebook must run again, or None if its executed notebook and results match ``inputs``."""
    if recorded is None:
        return "no recorded run"
    changed = [component for component in {**recorded["inputs"], **inputs}
               if recorded["inputs"].get(component) != inputs.get(component)]
    if changed:
        return f"changed: {', '.join(changed)}"
    if not target.exists():
        return f"{target.name} is missing"
    try:
        held = json.loads(target.read_text())["metadata"].get("advlab", {})
    except (OSError, ValueError, KeyError):
        held = {}
    if held.get("inputs") != inputs:
        return f"{target.name} holds another run, of profile {held.get('profile', 'unknown')!r}"
    return None


def _recorded(results: Path) -> dict | None:
    """The fingerprint of the last successful run into ``results``, or None."""
    try:
        recorded = json.loads((results / FINGERPRINT).read_text())
        return {"time": datetime.fromisoformat(recorded["time"]), "inputs": dict(recorded["inputs"])}
    except (OSError, ValueError, KeyError, TypeError):  # absent or unreadable: as if there were no previous run
        return None


def run(name: str, profile: str = "quick", overrides: dict | None = None, *, root: Path | None = None,
        progress: bool = True, force: bool = False) -> Path:
    """Execute notebook ``name`` with ``profile`` (+ ``overrides``) unless its inputs are unchanged since its
    last successful run (``force`` reruns); print one line saying which; return the executed notebook's path."""
    import jupytext
    import nbformat
    import papermill

    root = Path(root or project_root())
    params = parameters(name, profile, overrides)
    source = project_root() / "notebooks" / f"{name}.py"
    if not source.is_file():
        raise ValueError(f"notebook {name!r} is in profiles.yml but its source {source} does not exist")
    chapters = root / "book" / "chapters"
    target = chapters / f"{name}.ipynb"
    final_results = results_dir(name, profile, root)
    inputs = fingerprint(name, profile, params, root)
    recorded = _recorded(final_results)
    reason = "--force" if force else _reason_to_run(target, recorded, inputs)
    if reason is None:
        print(f"advlab: {name} ({profile}) unchanged since {recorded['time']:%Y-%m-%d %H:%M}, "
              "skipped (--force reruns)", flush=True)
        return target
    start = time.perf_counter()
    chapters.mkdir(parents=True, exist_ok=True)
    staging = final_results.with_name(f".{profile}.running")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    # The kernel runs in book/chapters/, so the results path it prints is relative and portable.
    injected = {**params, "profile": profile, "results_dir": os.path.relpath(staging, chapters)}
    with tempfile.TemporaryDirectory() as tmp:
        executed = Path(tmp) / f"{name}.ipynb"
        try:
            papermill.execute_notebook(jupytext.read(source), str(executed), parameters=injected,
                                       kernel_name="python3", language="python", cwd=str(chapters),
                                       progress_bar=progress and {"desc": f"{name} ({profile})"})
        except papermill.PapermillExecutionError as error:
            shutil.rmtree(staging, ignore_errors=True)
            failed = root / "_build" / "failed" / f"{name}.ipynb"
            failed.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(executed, failed)
            first_line = next((line for line in error.source.splitlines() if line.strip()), "")
            raise NotebookFailed(
                f"notebook {name!r} (profile {profile!r}) failed in cell {error.cell_index} "
                f"[execution count {error.exec_count}], starting {first_line!r}: {error.ename}: {error.evalue}\n"
                f"The executed notebook up to the failure is at {failed}; the previous results are untouched."
            ) from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        notebook = nbformat.read(executed, as_version=4)
        final_rel = os.path.relpath(final_results, chapters)
        notebook.metadata.papermill.parameters["results_dir"] = final_rel
        for cell in notebook.cells:
            tags = cell.metadata.get("tags", [])
            if "injected-parameters" in tags:
                cell.source = cell.source.replace(injected["results_dir"], final_rel)
                if name in COLLECTORS:  # a collector page shows no code; its profile is in its text
                    tags.append("remove-cell")
            elif "parameters" in tags:  # the book shows the values this run used, not the defaults
                tags.append("remove-cell")
        inputs["datasets"] = _datasets_digest()  # the data the run used: it may have filled data/cache
        record = {"notebook": name, "profile": profile, "time": datetime.now().isoformat(timespec="seconds"),
                  "inputs": inputs}
        notebook.metadata["advlab"] = record
        atomic_write_text(staging / FINGERPRINT, json.dumps(record, indent=1) + "\n")
        replace_dir(staging, final_results)
        with atomic_path(target) as tmp_target:
            nbformat.write(notebook, tmp_target)
    print(f"advlab: {name} ({profile}) ran in {time.perf_counter() - start:.0f} s ({reason})", flush=True)
    return target


def build_book(root: Path | None = None) -> Path:
    """``jupyter-book build`` with warnings as errors; return the HTML folder."""
    root = Path(root or project_root())
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root), "--warningiserror",
               "--keep-going"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"jupyter-book build failed (exit {done.returncode}):\n{done.stdout[-6000:]}\n{done.stderr[-4000:]}")
    return root / "_build" / "html"


def book(profile: str = "quick", *, root: Path | None = None, run_notebooks: bool = True, progress: bool = True,
         force: bool = False) -> Path:
    """Run every notebook with ``profile`` (book order; unchanged ones are skipped unless ``force``), then build
    the book; return the HTML folder."""
    if run_notebooks:
        for name in notebook_names():
            run(name, profile, root=root, progress=progress, force=force)
    return build_book(root)
