"""The standard figures of the papers: accuracy against ε, norm against iteration, distortion bars,
example grids. Each draws on a matplotlib ``Axes`` (or returns a figure) with the 95 % band where
the quantity is estimated from samples."""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from advlab.chapter.tables import accuracy_at


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
