"""A chapter's runs at the profiles whose results are committed (``gpu``, ``full``), shown in the book
beside the run that built it, so that a book rebuilt at quick scale still shows the papers' scale.

``show_committed(ctx)`` displays, for each committed run of ``ctx``'s chapter at another profile,
where and how it ran (profile, hardware, versions, date, seconds, the parameters that differ from this
build) and its verdicts; ``show_committed_results(ctx)`` every table and figure it saved (a chapter
puts it in a cell whose output the book folds). Each table is captioned with the profile and hardware
that made it. The pipeline counts these files among a run's inputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pandas as pd

from advlab.chapter.claims import COLUMNS
from advlab.chapter.run import made_by
from advlab.chapter.tables import show
from advlab.pipeline import COMMITTED_PROFILES

FIRST = ("scale", "models")  # shown before the other tables, in this order


def committed_runs(chapter_results: Path, besides: str) -> Iterator[tuple[str, dict, Path]]:
    """(profile, run record, folder) of each run in ``chapter_results`` (``book/results/<chapter>``) at a
    committed profile other than ``besides`` that finished (its ``run.json`` exists)."""
    for profile in COMMITTED_PROFILES:
        folder = Path(chapter_results) / profile
        if profile != besides and (folder / "run.json").is_file():
            yield profile, json.loads((folder / "run.json").read_text()), folder


def differing_parameters(this: dict, other: dict, other_profile: str) -> pd.DataFrame:
    """The parameters whose values differ between this build and the other run, side by side."""
    rows = [{"parameter": key, "this build": json.dumps(this.get(key)), f"profile {other_profile}": json.dumps(value)}
            for key, value in other.items() if this.get(key) != value]
    return pd.DataFrame(rows, columns=["parameter", "this build", f"profile {other_profile}"])


def _order(path: Path) -> tuple[int, str]:
    return (FIRST.index(path.stem) if path.stem in FIRST else len(FIRST), path.stem)


def _runs(ctx) -> list[tuple[str, dict, Path]]:
    return list(committed_runs(ctx.results.directory.parent, besides=ctx.profile))


def show_committed(ctx) -> None:
    """Display each committed run of ``ctx``'s chapter at another profile: where, how long, with which
    parameters, and its verdicts; or one line saying that there is none and which command makes one."""
    from IPython.display import Markdown, display

    runs = _runs(ctx)
    if not runs:
        display(Markdown(f"No run of this chapter at another profile ({', '.join(COMMITTED_PROFILES)}) is committed "
                         f"yet. On a GPU, `advlab run {ctx.name} --profile gpu` makes one (README, *Paper scale on a "
                         "GPU*); commit its `book/results/` folder."))
    for profile, record, folder in runs:
        label = made_by(profile, record["hardware"])
        versions = ", ".join(f"{name} {version}" for name, version in record.get("versions", {}).items())
        verdicts = ", ".join(f"{count} {verdict}" for verdict, count in record.get("verdicts", {}).items() if count)
        display(Markdown(
            f"**Profile `{profile}`** ran on **{record['hardware']}** ({versions}) in "
            f"{record['seconds'] / 60:.1f} minutes, finished {record['finished']}. "
            f"Verdicts: {verdicts or 'none recorded'}. Its tables end their captions with *{label}*."))
        differing = differing_parameters(ctx.parameters, record["parameters"], profile)
        if len(differing):
            show(differing, caption=f"Parameters of profile {profile} that differ from this build's",
                 made_by=ctx.made_by)
        if (folder / "claims.csv").is_file():
            claims = pd.read_csv(folder / "claims.csv")
            show(claims[[column for column in COLUMNS if column in claims]], caption="Headline claims", made_by=label)


def show_committed_results(ctx) -> None:
    """Display every table and figure of each committed run of ``ctx``'s chapter at another profile."""
    from IPython.display import Image, Markdown, display

    for profile, record, folder in _runs(ctx):
        label = made_by(profile, record["hardware"])
        for path in sorted(folder.glob("*.csv"), key=_order):
            if path.stem != "claims":
                show(pd.read_csv(path), caption=path.stem, made_by=label)
        for path in sorted(folder.glob("*.png")):
            display(Image(filename=str(path)), Markdown(f"*{path.stem}* — {label}"))
