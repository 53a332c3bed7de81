"""The papers' numbers beside the reproduced ones, and verdicts on the papers' headline claims.

The papers' tables are transcribed in ``data/reference/<paper>.json`` (columns and rows as printed).
Every chapter shows, per cell, the paper's value, the reproduced value and their relative
difference (:func:`compare`), and gives each headline claim a verdict computed from its numbers
(:func:`verdict`), saved with :meth:`advlab.results.Results.claims`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import pandas as pd

from advlab import project_root

HOLDS = "holds"
HOLDS_QUALITATIVELY = "holds qualitatively"
DOES_NOT_HOLD = "does not hold at this scale"


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
    return _reference(paper)["figures"][figure]["values"]


def compare(paper: pd.DataFrame, reproduced: pd.DataFrame, on: list[str], metrics: list[str],
            not_reproduced: str = "not reproduced") -> pd.DataFrame:
    """One row per paper row: the keys ``on``, then for each metric ``<m> (paper)``, ``<m> (here)`` and
    ``<m> Δ%`` = 100·(here − paper)/abs(paper). Paper rows without a reproduced row keep their values and
    get ``not_reproduced`` in the ``note`` column (e.g. "not reproduced (no ImageNet data offline)").
    """
    merged = paper[on + metrics].merge(reproduced[on + metrics], on=on, how="left", suffixes=(" (paper)", " (here)"),
                                       indicator=True)
    out = merged[on].copy()
    for metric in metrics:
        ours, theirs = merged[f"{metric} (here)"], pd.to_numeric(merged[f"{metric} (paper)"], errors="coerce")
        out[f"{metric} (paper)"] = merged[f"{metric} (paper)"]
        out[f"{metric} (here)"] = ours
        out[f"{metric} Δ%"] = (100 * (pd.to_numeric(ours, errors="coerce") - theirs) / theirs.abs()).round(1)
    out["note"] = merged["_merge"].map({"both": "", "left_only": not_reproduced}).astype(str)
    return out


def verdict(holds: bool, holds_qualitatively: bool = False) -> str:
    """"holds" if the claim holds as stated, "holds qualitatively" if its direction or ordering holds
    but not its numbers, else "does not hold at this scale"."""
    return HOLDS if holds else HOLDS_QUALITATIVELY if holds_qualitatively else DOES_NOT_HOLD


@dataclass(frozen=True)
class Claim:
    """A headline claim of the paper (its id in ``data/reference``'s notes, e.g. "DDN-C1") and its verdict."""

    claim: str
    statement: str
    paper: str
    reproduced: str
    verdict: str


def claims_table(claims: list[Claim]) -> pd.DataFrame:
    """The claims as a table (columns claim, statement, paper, reproduced, verdict)."""
    frame = pd.DataFrame([c.__dict__ for c in claims], columns=list(Claim.__dataclass_fields__))
    unknown = set(frame["verdict"]) - {HOLDS, HOLDS_QUALITATIVELY, DOES_NOT_HOLD}
    if unknown:
        raise ValueError(f"unknown verdicts {unknown}; use advlab.report.verdict()")
    return frame
