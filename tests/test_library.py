"""Library hygiene: every module imports on its own; docstrings cite the papers, not notes outside the repository."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import advlab

PACKAGE = Path(advlab.__file__).resolve().parent


@pytest.mark.parametrize("module", ["advlab.defenses.pgn", "advlab.defenses.distillation", "advlab.zoo",
                                    "advlab.evaluate", "advlab.attacks", "advlab.training"])
def test_module_imports_first_in_a_fresh_interpreter(module):
    """No import cycle: each module works as the first advlab import of a process."""
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_docstrings_cite_no_reference_notes():
    """The reference notes (ddn.md, ...) live outside the repository; the library cites the papers themselves."""
    notes = re.compile(r"\b(ddn|anu|ead|pgn|convex)\.md\b")
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 20 and PACKAGE / "defenses" / "pgn.py" in sources
    hits = [f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
            for path in sources for number, line in enumerate(path.read_text().splitlines(), 1) if notes.search(line)]
    assert not hits, "\n".join(hits)
