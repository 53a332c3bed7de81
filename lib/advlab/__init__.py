"""advlab: the shared library of the advlab book (attacks, defenses, model zoo, data, evaluation)."""

from pathlib import Path
import os

__version__ = "0.1.0"


def project_root() -> Path:
    """The book's repository root (``ADVLAB_HOME`` overrides it): where data/, notebooks/ and book/ live."""
    return Path(os.environ.get("ADVLAB_HOME", Path(__file__).resolve().parents[2]))
