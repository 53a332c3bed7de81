"""The papers' own numbers, transcribed in ``data/reference/<paper>.json`` (tables and figures as printed).

Every chapter shows them beside the reproduced values (:func:`advlab.chapter.compare`).
"""

from __future__ import annotations

import json
from functools import cache

import pandas as pd

from advlab import project_root


@cache
def _reference(paper: str) -> dict:
    path = project_root() / "data" / "reference" / f"{paper}.json"
    if not path.exists():
        raise ValueError(f"no reference numbers for paper {paper!r}; have: "
                         f"{', '.join(p.stem for p in path.parent.glob('*.json'))}")
    return json.loads(path.read_text())


def paper_table(paper: str, table: str) -> pd.DataFrame:
    """Table ``table`` (e.g. "T1", "text_clean_accuracy") of ``paper`` ("ddn", "anu", …) as printed."""
    tables = _reference(paper)["tables"]
    if table not in tables:
        raise ValueError(f"paper {paper!r} has no table {table!r}; it has: {', '.join(tables)}")
    return pd.DataFrame(tables[table]["rows"])


def paper_figure(paper: str, figure: str):
    """The recoverable values of figure ``figure`` (e.g. "Fig4") of ``paper``, or None."""
    figures = _reference(paper)["figures"]
    if figure not in figures:
        raise ValueError(f"paper {paper!r} has no figure {figure!r}; it has: {', '.join(figures)}")
    return figures[figure]["values"]
