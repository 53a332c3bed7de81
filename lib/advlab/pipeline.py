"""Run the book's Jupytext notebooks with papermill, then build the book with Jupyter Book.

``run(name, profile)`` converts ``notebooks/<name>.py``, executes it with the profile's parameters
(``notebooks/profiles.yml``) into ``book/chapters/<name>.ipynb``, and its tables and figures into
``book/results/<name>/<profile>/``. Both are replaced only when the whole run succeeds: a failed
run raises :class:`NotebookFailed` naming the notebook and the failing cell, and leaves the previous
executed notebook and results untouched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from advlab import project_root
from advlab.fileio import atomic_path
from advlab.results import results_dir

PROFILES = ("smoke", "quick", "full")


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


def _replace_dir(staging: Path, final: Path) -> None:
    """Swap ``staging`` in for ``final``: the old folder is removed only once the new one is in place."""
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def run(name: str, profile: str = "quick", overrides: dict | None = None, *, root: Path | None = None,
        progress: bool = True) -> Path:
    """Execute notebook ``name`` with ``profile`` (+ ``overrides``); return the executed notebook's path."""
    import jupytext
    import nbformat
    import papermill

    root = Path(root or project_root())
    params = parameters(name, profile, overrides)
    source = project_root() / "notebooks" / f"{name}.py"
    chapters = root / "book" / "chapters"
    chapters.mkdir(parents=True, exist_ok=True)
    target = chapters / f"{name}.ipynb"
    final_results = results_dir(name, profile, root)
    staging = final_results.with_name(f".{profile}.running")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    # The kernel runs in book/chapters/, so the results path it prints is relative and portable.
    injected = {**params, "profile": profile, "results_dir": os.path.relpath(staging, chapters)}
    with tempfile.TemporaryDirectory() as tmp:
        executed = Path(tmp) / f"{name}.ipynb"
        try:
            papermill.execute_notebook(jupytext.read(source), str(executed), parameters=injected,
                                       kernel_name="python3", cwd=str(chapters), progress_bar=progress)
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
            elif "parameters" in tags:  # the book shows the values this run used, not the defaults
                tags.append("remove-cell")
        _replace_dir(staging, final_results)
        with atomic_path(target) as tmp_target:
            nbformat.write(notebook, tmp_target)
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


def book(profile: str = "quick", *, root: Path | None = None, run_notebooks: bool = True, progress: bool = True) -> Path:
    """Run every notebook with ``profile`` (book order), then build the book; return the HTML folder."""
    if run_notebooks:
        for name in notebook_names():
            print(f"advlab: running {name} ({profile})", flush=True)
            run(name, profile, root=root, progress=progress)
    return build_book(root)
