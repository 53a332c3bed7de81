"""The chapters' tables: standard metric names, each number with its 95 % interval, the paper beside it.

Standard names (every chapter, every CSV): ``success_pct``, ``mean_l2`` / ``median_l2`` (likewise
``l1``, ``linf``, ``l0``), ``gradients`` (backward passes per attacked image), ``seconds``,
``accuracy_pct``. A measured value ``m`` travels with ``m low`` and ``m high`` (its 95 % interval);
:func:`compare` puts the paper's value and the relative difference beside it, and :func:`show`
prints ``value [low, high]`` in one cell.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from advlab.chapter import stats
from advlab.chapter.samples import Targeted
from advlab.chapter.stats import Estimate
from advlab.evaluate import AttackResult

LOW, HIGH = " low", " high"


def attack_metrics(result: AttackResult, norms: tuple[str, ...] = ("l2",), targeted: Targeted | None = None
                   ) -> dict[str, Estimate]:
    """Success rate, mean and median distance per norm, gradients and seconds of one attack run.

    As the papers report them (``advlab.evaluate.summarize``): the mean is over successful attacks,
    the median over all with failures as +∞. With ``targeted`` the intervals resample whole images
    (an image's targets are not independent).
    """
    shape = (lambda v: targeted.per_image_view(v)) if targeted is not None else (lambda v: v)
    out = {}
    for norm in norms:
        out.update(distance_metrics(shape(result.adversarial_distance(norm)), norm))
    attacked = ~result.already_adversarial
    gradients = result.backwards[attacked].mean().item() if attacked.any() else math.nan
    out["gradients"] = stats.exact(gradients, int(attacked.sum()), "mean backward passes per attacked image")
    out["seconds"] = stats.exact(result.seconds, len(result.success), "wall time of the attack calls")
    return out


def distance_metrics(distances: torch.Tensor, norm: str = "l2", eps: float | None = None) -> dict[str, Estimate]:
    """``success_pct``, ``mean_<norm>`` (over successes), ``median_<norm>`` (failures as +∞) of per-image
    distances (+∞ = failure), and with ``eps`` ``acc_at_eps_pct``, the accuracy under the bound ε: the
    same columns as ``attack_metrics`` for a quantity that is not one run, e.g. DDN Tables 5–6 "All"
    (``evaluate.best_distances``: the per-image minimum over attacks)."""
    d = torch.as_tensor(distances).double().numpy()
    out = {"success_pct": stats.rate(np.isfinite(d)).scaled(100), f"mean_{norm}": stats.mean(d),
           f"median_{norm}": stats.median(d)}
    if eps is not None:
        out["acc_at_eps_pct"] = accuracy_at(distances, eps)
    return out


def accuracy_at(distances: torch.Tensor, eps: float) -> Estimate:
    """Accuracy (%) under the bound ``eps``: the share of images with no adversarial example of norm ≤ ε
    (distance > ε; misclassified clean images have distance 0), Wilson interval."""
    return stats.rate((torch.as_tensor(distances).double() > eps).numpy()).scaled(100)


def row(estimates: dict[str, Estimate], **keys) -> dict:
    """A table row: ``keys`` then every estimate as ``m``, ``m low``, ``m high`` (plain numbers)."""
    out = dict(keys)
    for name, estimate in estimates.items():
        out[name] = estimate.value
        if estimate.low != estimate.high:
            out[name + LOW], out[name + HIGH] = estimate.low, estimate.high
    return out


def compare(paper: pd.DataFrame, here: pd.DataFrame, on: list[str], metrics: list[str], *,
            extra: list[str] = (), missing: str = "not reproduced") -> pd.DataFrame:
    """One row per paper row: the keys ``on``, the ``extra`` columns of ``here`` (e.g. the budget run,
    n), then per metric ``m (paper)``, ``m (here)`` with ``m low``/``m high`` and ``m Δ%`` =
    100·(here − paper)/abs(paper). Reproduced rows the paper lacks follow the paper's rows. Rows not
    reproduced get ``missing`` in ``note`` (e.g. "not reproduced (no ImageNet data offline)")."""
    here = here.copy()
    for metric in metrics:
        for suffix in (LOW, HIGH):
            if metric + suffix not in here:
                here[metric + suffix] = math.nan
    wanted = on + list(extra) + [m + s for m in metrics for s in ("", LOW, HIGH)]
    paper = paper[[c for c in on + metrics if c in paper]].copy()
    for metric in metrics:
        if metric not in paper:
            paper[metric] = math.nan
    merged = paper.merge(here[wanted], on=on, how="left", suffixes=(" (paper)", " (here)"), indicator=True)
    extra_rows = here[wanted].merge(paper[on], on=on, how="left", indicator=True)
    extra_rows = extra_rows[extra_rows["_merge"] == "left_only"].drop(columns="_merge")
    if len(extra_rows):  # reproduced rows the paper lacks, after the paper's rows, in their own order
        extra_rows = extra_rows.rename(columns={m: f"{m} (here)" for m in metrics}).assign(_merge="right_only")
        merged = pd.concat([merged, extra_rows], ignore_index=True)
    out = merged[on + list(extra)].copy()
    for metric in metrics:
        theirs = pd.to_numeric(merged[f"{metric} (paper)"], errors="coerce")
        ours = pd.to_numeric(merged[f"{metric} (here)"], errors="coerce")
        out[f"{metric} (paper)"] = theirs
        out[f"{metric} (here)"] = ours
        out[metric + LOW], out[metric + HIGH] = merged[metric + LOW], merged[metric + HIGH]
        out[f"{metric} Δ%"] = (100 * (ours - theirs) / theirs.abs()).round(1)
    out["note"] = merged["_merge"].astype(str).map({"both": "", "left_only": missing, "right_only": "not in the paper"})
    return out


def _number(value, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return f"{value:d}"
    if isinstance(value, float):
        if value and abs(value) < 10 ** -digits:  # e.g. EAD's β = 1e-05 would print as 0.000
            return f"{value:.2g}"
        return f"{value:.{digits}f}"
    return str(value)


def _digits(column: str, default: int) -> int:
    if column.endswith("Δ%") or "pct" in column or "accuracy" in column or column.startswith("seconds"):
        return 1
    if column.startswith("gradients"):
        return 0
    return default


def display_frame(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Text cells as a reader sees them: ``m (here)`` (or ``m``) merged with its interval, numbers rounded."""
    out = pd.DataFrame(index=frame.index)
    columns = list(frame.columns)
    for column in columns:
        name = str(column)
        if name.endswith(LOW) or name.endswith(HIGH):
            continue
        base = name[:-len(" (here)")] if name.endswith(" (here)") else name
        d = _digits(base, digits)
        if base + LOW in frame and base + HIGH in frame:
            out[name + " [95 % CI]"] = [
                _number(v, d) + ("" if pd.isna(lo) or pd.isna(v) else f" [{_number(lo, d)}, {_number(hi, d)}]")
                for v, lo, hi in zip(frame[column], frame[base + LOW], frame[base + HIGH])]
        else:
            out[name] = [_number(v, d) for v in frame[column]]
    return out


MADE_BY: str | None = None  # "profile quick · CPU (x86_64), 2 threads": set by chapter.start, ends every caption


def show(frame: pd.DataFrame, digits: int = 3, caption: str | None = None, made_by: str | None = None):
    """Display ``frame`` for a reader: no index, intervals beside their values, ``–`` for missing; the
    caption ends with the profile and hardware that made the table (``made_by``, default the running chapter's)."""
    from IPython.display import display

    styled = display_frame(frame, digits).style.hide(axis="index")
    caption = " — ".join(filter(None, [caption, made_by or MADE_BY]))
    if caption:
        styled = styled.set_caption(caption)
    display(styled)

