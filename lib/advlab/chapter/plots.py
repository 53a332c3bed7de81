"""The standard figures of the papers: accuracy against ε, norm against iteration, distortion bars,
example grids; EAD's shrinkage operator, metric sweeps and target grids. Each draws on a matplotlib
``Axes`` (or returns a figure) with the 95 % band where the quantity is estimated from samples."""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from advlab.attacks.ead import shrink
from advlab.chapter.tables import HIGH, LOW, accuracy_at


def accuracy_curve(distances: torch.Tensor, eps: Sequence[float]) -> pd.DataFrame:
    """Accuracy (%) against the bound ε: the share of samples with no adversarial example within ε
    (distance > ε; failures are +∞, misclassified clean images 0), with Wilson 95 % bounds."""
    distances = torch.as_tensor(distances).double()
    rows = []
    for e in eps:
        estimate = accuracy_at(distances, e)
        rows.append({"eps": float(e), "accuracy_pct": estimate.value, "accuracy_pct low": estimate.low,
                     "accuracy_pct high": estimate.high, "n": estimate.n})
    return pd.DataFrame(rows)


def accuracy_vs_eps(ax, curve: pd.DataFrame, label: str, color=None, band: bool = True):
    """Draw an :func:`accuracy_curve` as a step line with its 95 % band (DDN Fig. 4, ANU Fig. 5, PGN)."""
    line, = ax.plot(curve["eps"], curve["accuracy_pct"], drawstyle="steps-post", color=color, label=label)
    if band:
        ax.fill_between(curve["eps"], curve["accuracy_pct low"], curve["accuracy_pct high"], step="post",
                        color=line.get_color(), alpha=0.15, lw=0)
    ax.set_xlabel("L2 norm of the perturbation ε")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-2, 102)
    return line


def norm_trajectory(ax, steps: Sequence[int], norms: Sequence[float], adversarial: Sequence[bool] | None = None,
                    label: str | None = None, color=None):
    """‖x̃ₖ − x‖₂ against the iteration; with ``adversarial`` the iterates are coloured by their status."""
    steps, norms = np.asarray(steps), np.asarray(norms)
    if adversarial is None:
        return ax.plot(steps, norms, color=color, label=label, lw=1)[0]
    ax.plot(steps, norms, color="0.75", lw=0.8, zorder=1)
    adversarial = np.asarray(adversarial, dtype=bool)
    for flag, point_color, text in ((False, "tab:blue", "iterate not adversarial"),
                                    (True, "tab:red", "iterate adversarial")):
        ax.scatter(steps[adversarial == flag], norms[adversarial == flag], s=6, color=point_color,
                   label=text, zorder=2, rasterized=True)
    ax.set_xlabel("iteration (= gradient computations)")
    ax.set_ylabel("‖x̃ₖ − x‖₂")
    return None


def distortion_bars(ax, frame: pd.DataFrame, category: str, group: str, value: str):
    """Grouped bars of ``value`` (with ``value low``/``value high`` error bars when present) per
    ``category`` and ``group`` (EAD's and the convex paper's distortion figures)."""
    categories = list(dict.fromkeys(frame[category]))
    groups = list(dict.fromkeys(frame[group]))
    width = 0.8 / len(groups)
    for i, name in enumerate(groups):
        part = frame[frame[group] == name].set_index(category).reindex(categories)
        x = np.arange(len(categories)) + (i - (len(groups) - 1) / 2) * width
        error = None
        if f"{value} low" in part and f"{value} high" in part:
            error = np.vstack([part[value] - part[f"{value} low"], part[f"{value} high"] - part[value]])
            error = np.nan_to_num(error, nan=0.0)
        ax.bar(x, part[value], width, yerr=error, label=str(name), capsize=2)
    ax.set_xticks(np.arange(len(categories)), categories)
    ax.set_ylabel(value)
    ax.legend(fontsize=8)


def examples_grid(rows: list[tuple[str, torch.Tensor, Sequence[str], Sequence[float] | None]], title: str = ""):
    """A grid of images: one row per (name, images (N, C, H, W), captions, norms or None); the norm
    is printed top left, the caption (e.g. the predicted class) bottom right. Returns the figure."""
    count = len(rows[0][1])
    fig, axes = plt.subplots(len(rows), count, figsize=(1.5 * count, 1.6 * len(rows)), squeeze=False)
    box = dict(facecolor="black", alpha=0.6, pad=1, lw=0)
    for r, (name, images, captions, norms) in enumerate(rows):
        for c in range(count):
            ax = axes[r, c]
            ax.imshow(images[c].permute(1, 2, 0).squeeze(-1).cpu().numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if norms is not None and math.isfinite(float(norms[c])):
                ax.text(1, 1, f"{float(norms[c]):.2f}", color="yellow", fontsize=7, va="top", bbox=box)
            ax.text(0.97, 0.03, str(captions[c]), color="white", fontsize=7, ha="right", transform=ax.transAxes,
                    bbox=box)
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def shrinkage_operator(ax, beta: float, x0: float = 0.5):
    """EAD's projected shrinkage-thresholding S_β (Eq. 9) of one pixel with clean value ``x0``, drawn
    against its input z beside the identity, with the [0, 1] box and the dead zone where
    abs(z − x0) ≤ β (S_β(z) = x0) shaded. Take a visible β (e.g. 0.1) for the picture. Returns ``ax``."""
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    if not 0 <= x0 <= 1:
        raise ValueError(f"x0 must lie in [0, 1], got {x0}")
    z = torch.linspace(-0.3, 1.3, 1601, dtype=torch.float64)
    shrunk = shrink(z, torch.full_like(z, x0), beta)
    ax.plot(z, z, color="0.6", ls="--", lw=1, label="identity z")
    ax.plot(z, shrunk, color="tab:blue", lw=2, label=f"S_β(z), β = {beta:g}")
    for bound in (0, 1):
        ax.axhline(bound, color="0.3", ls=":", lw=1, label="box [0, 1]" if bound == 0 else None)
    ax.axvspan(x0 - beta, x0 + beta, color="tab:orange", alpha=0.2, lw=0, label="dead zone: S_β(z) = x₀")
    ax.set_xlabel("z = y − α∇g(y), one pixel")
    ax.set_ylabel("S_β(z)")
    ax.legend(fontsize=8)
    return ax


def metric_sweep(axes, frame: pd.DataFrame, x: str, y_columns: Sequence[str], hue: str,
                 paper: pd.DataFrame | None = None, log_x: bool = False):
    """One panel per ``y_columns`` entry (on ``axes``, same order), the metric against ``x`` with one line
    per ``hue`` value: EAD Figs. 2/5 (ASR, L1, L2, L∞ against β, ``log_x=True``, hue = decision rule),
    Fig. 3 (ASR against T) and Fig. 4 (ASR against κ). Intervals from ``<col> low``/``<col> high``
    when present. Rows whose ``x`` is missing (NaN: an attack without that parameter, I-FGM in Fig. 4)
    are drawn as flat horizontal lines. ``paper``: the paper's values in the same columns (e.g. its
    table), dashed with crosses in the hue's colour. Returns the list of axes."""
    axes = list(np.ravel(axes))
    if len(axes) != len(y_columns):
        raise ValueError(f"need one axes per column: {len(axes)} axes for {len(y_columns)} columns")
    sources = [(frame, "", "-", "o")] + ([(paper, " (paper)", "--", "x")] if paper is not None else [])
    for data, *_ in sources:
        missing = [c for c in (x, hue, *y_columns) if c not in data]
        if missing:
            raise ValueError(f"missing columns {missing}; have {list(data.columns)}")
    names = list(dict.fromkeys([*frame[hue], *(paper[hue] if paper is not None else [])]))
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colors = {name: cycle[i % len(cycle)] for i, name in enumerate(names)}
    for ax, column in zip(axes, y_columns):
        for data, suffix, style, marker in sources:
            position = pd.to_numeric(data[x], errors="coerce")
            for name in dict.fromkeys(data[hue]):
                part = data[data[hue] == name].assign(_x=position).sort_values("_x")
                flat, swept = part[part["_x"].isna()], part[part["_x"].notna()]
                label, color = f"{name}{suffix}", colors[name]
                interval = column + LOW in part and column + HIGH in part
                for _, flat_row in flat.iterrows():
                    ax.axhline(flat_row[column], color=color, ls=style, lw=1, label=label)
                    if interval:
                        ax.axhspan(flat_row[column + LOW], flat_row[column + HIGH], color=color, alpha=0.15, lw=0)
                if swept.empty:
                    continue
                if interval:
                    error = np.nan_to_num(np.vstack([swept[column] - swept[column + LOW],
                                                     swept[column + HIGH] - swept[column]]), nan=0.0)
                    ax.errorbar(swept["_x"], swept[column], yerr=error, color=color, ls=style, marker=marker,
                                ms=4, capsize=2, label=label)
                else:
                    ax.plot(swept["_x"], swept[column], color=color, ls=style, marker=marker, ms=4, label=label)
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel(x)
        ax.set_ylabel(column)
    axes[0].legend(fontsize=7)
    return axes


def target_grid(images: torch.Tensor, adversarial: torch.Tensor, success: torch.Tensor, labels: Sequence[str],
                title: str = ""):
    """EAD Figs. 6–7: a K × K grid, row i the original image of class i, column j the target class j; the
    diagonal shows the originals, cell (i, j) the adversarial example of image i towards j. Where that
    attack failed the cell shows the original with a red frame and a red ×.

    ``images``: (K, C, H, W) originals in [0, 1], row i of class i (C = 1 grey, 3 RGB); ``adversarial``:
    (K, K, C, H, W), its diagonal ignored; ``success``: (K, K) bool, its diagonal ignored; ``labels``: the
    K class names. Returns the figure."""
    images, adversarial, success = torch.as_tensor(images), torch.as_tensor(adversarial), torch.as_tensor(success)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be (K, C, H, W) with C = 1 or 3, got {tuple(images.shape)}")
    k = len(images)
    if adversarial.shape != (k, k, *images.shape[1:]):
        raise ValueError(f"adversarial must be {(k, k, *images.shape[1:])} for {k} images, "
                         f"got {tuple(adversarial.shape)}")
    if success.shape != (k, k) or len(labels) != k:
        raise ValueError(f"need a ({k}, {k}) success mask and {k} labels, got {tuple(success.shape)} and {len(labels)}")
    fig, axes = plt.subplots(k, k, figsize=(0.9 * k, 0.9 * k + (0.3 if title else 0)), squeeze=False)
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            failed = i != j and not bool(success[i, j])
            shown = images[i] if i == j or failed else adversarial[i, j]
            ax.imshow(shown.permute(1, 2, 0).squeeze(-1).cpu().numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if failed:
                ax.text(0.5, 0.5, "×", color="red", fontsize=14, ha="center", va="center", transform=ax.transAxes)
                for spine in ax.spines.values():
                    spine.set(color="red", linewidth=2)
            if i == 0:
                ax.set_title(str(labels[j]), fontsize=7)
            if j == 0:
                ax.set_ylabel(str(labels[i]), fontsize=7)
    fig.supxlabel("target class", fontsize=8)
    fig.supylabel("original class", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
