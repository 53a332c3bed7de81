"""Where a chapter saves its tables (CSV) and figures (PNG), so tests and summary pages can read them.

Each notebook gets a ``results_dir`` parameter from the pipeline (``book/results/<notebook>/<profile>``)
and writes through :class:`Results`; every file is written atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

from advlab import project_root
from advlab.fileio import atomic_path


def results_dir(notebook: str, profile: str, root: Path | None = None) -> Path:
    """``<root>/book/results/<notebook>/<profile>``: the folder a chapter's run writes into."""
    return (root or project_root()) / "book" / "results" / notebook / profile


class Results:
    """A chapter's output folder: ``table(df, name)`` writes CSV, ``figure(fig, name)`` writes PNG."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def table(self, frame, name: str):
        """Save ``frame`` as ``<name>.csv`` and return it (so a cell can display it)."""
        with atomic_path(self.directory / f"{name}.csv") as tmp:
            frame.to_csv(tmp, index=False)
        return frame

    def figure(self, fig, name: str, dpi: int = 120):
        """Save a matplotlib figure as ``<name>.png`` and return it."""
        with atomic_path(self.directory / f"{name}.png") as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
        return fig
