"""What iterative attacks do per iteration, and the statistics chapters draw from it.

The ANU chapter explains these (its Figs. 1–4, the γ bound, the ablation and the same-conditions
timing); any chapter whose attack reports its state through ``callback`` can use them.

- :class:`StepTrace`: the ``callback`` of ``ddn`` / ``anu`` that keeps every iteration's per-sample
  state (several batches of ``run_attack`` included); ``frame(i)`` is one image's trajectory,
  :func:`trace_attacks` records several attacks on the same inputs and :func:`plot_trajectories`
  draws them (norm, status, γ).
- :func:`first_iteration`, :func:`convergence`, :func:`convergence_table`: per image, the first
  adversarial iterate and the iteration at which the best norm comes within a tolerance of the
  lower final norm, paired between attacks.
- :func:`mean_curve`, :func:`plot_mean_curves`: the mean norm against the iteration over many images
  (ANU Fig. 4), with 95 % bands.
- :func:`gamma_bound`, :func:`gamma_collapse`: where ANU's γ_k was clamped, and how far it fell.
- :func:`paired_timing`, :func:`timing_ratio`: interleaved timing of several calls in the same
  conditions, and the time ratio of two of them with its interval.
- :func:`training_step`: one optimisation step of ``advlab.training.fit`` (for timing a recipe).
- :func:`on_first_images`, :func:`covered`: per-image values of an attack set spread over the first
  test images (misclassified ones at distance 0), so curves over "the first N test images" reuse runs.
- :func:`share_of_gap`: the share of the gap between two runs' mean norms that a third closes.

(``experiments.NormTrace`` is another thing: a model wrapper recording one image's norm at every
forward pass of any attack.)
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from advlab.chapter import stats
from advlab.chapter.claims import Unmeasured
from advlab.chapter.experiments import run_on
from advlab.chapter.samples import AttackSet, Targeted
from advlab.chapter.stats import Estimate

FIELDS = ("norm", "adversarial", "best_norm", "gamma", "gamma_at_bound", "eps")


class StepTrace:
    """A ``callback`` for ``ddn`` / ``anu`` keeping every iteration's per-sample state (``NormUpdateStep``).

    ``run_attack`` may call the attack once per batch: each batch restarts the iterations at step 0,
    and its samples are appended after the previous batch's, in order. ``field(name)`` gives a
    (steps, samples) tensor of one field of ``NormUpdateStep``; ``frame(i)`` sample ``i``'s trajectory.
    """

    def __init__(self):
        self._blocks: list[dict[str, list[Tensor]]] = []

    def __call__(self, state) -> None:
        if state.step == 0 or not self._blocks:
            self._blocks.append({name: [] for name in FIELDS})
        for name in FIELDS:
            self._blocks[-1][name].append(getattr(state, name).detach().cpu())

    @property
    def steps(self) -> int:
        return len(self._blocks[0]["norm"]) if self._blocks else 0

    def field(self, name: str) -> Tensor:
        """(steps, samples) values of ``name`` (one of :data:`FIELDS`), every batch side by side."""
        if not self._blocks:
            raise ValueError("the trace is empty: pass it as the attack's callback first")
        if len({len(block[name]) for block in self._blocks}) > 1:
            raise ValueError("the batches of this trace ran different numbers of steps")
        return torch.cat([torch.stack(block[name]) for block in self._blocks], dim=1)

    def frame(self, sample: int = 0) -> pd.DataFrame:
        """Sample ``sample``'s trajectory: one row per iteration (1-based), one column per field."""
        out = pd.DataFrame({name: self.field(name)[:, sample].numpy() for name in FIELDS})
        return out.assign(iteration=np.arange(1, len(out) + 1)).rename(columns={"gamma_at_bound": "at_bound"})


def trace_attacks(attacks: dict[str, Callable[..., Tensor]], model: nn.Module, inputs: Tensor, labels: Tensor,
                  **kwargs) -> dict[str, StepTrace]:
    """Run every attack (``ddn`` / ``anu`` calls) on the same inputs with a :class:`StepTrace` as its
    ``callback``; return the traces (e.g. one image's trajectories, ANU Figs. 1–3)."""
    out = {label: StepTrace() for label in attacks}
    for label, attack in attacks.items():
        attack(model, inputs, labels, callback=out[label], **kwargs)
    return out


class TracedRuns:
    """Attack runs with their :class:`StepTrace`, each computed once under a key the chapter chooses
    (the ANU chapter: dataset, model, attack, budget, setting, changed settings).

    ``add(key, model, attacked, make_attack)`` runs the attack ``make_attack(callback)`` on ``attacked``
    (an ``AttackSet``, untargeted, or a ``Targeted`` view) unless ``key`` ran before, and returns
    ``(result, trace)``; ``runs[key]`` returns them or raises ``Unmeasured`` naming the key;
    ``distances(key)`` gives the per-image L2 ((images, targets) for a targeted view) and
    ``change(a, b)`` the paired relative change of run a's mean (or median) L2 against run b's.
    """

    def __init__(self):
        self.store: dict = {}

    def add(self, key, model: nn.Module, attacked, make_attack: Callable[[StepTrace], Callable]) -> tuple:
        if key not in self.store:
            trace = StepTrace()
            self.store[key] = (run_on(model, attacked, make_attack(trace)), trace, attacked)
        return self[key]

    def __getitem__(self, key) -> tuple:
        if key not in self.store:
            raise Unmeasured(f"run {key!r} was not made in this profile")
        return self.store[key][:2]

    def __contains__(self, key) -> bool:
        return key in self.store

    def items(self):
        return ((key, value[:2]) for key, value in self.store.items())

    def distances(self, key) -> np.ndarray:
        result, _ = self[key]
        attacked = self.store[key][2]
        d = result.adversarial_distance("l2").double()
        return (attacked.per_image_view(d) if isinstance(attacked, Targeted) else d).numpy()

    def change(self, a, b, statistic: str = "mean") -> Estimate:
        return stats.relative_difference(self.distances(a), self.distances(b), statistic)


def first_iteration(flags: Tensor) -> Tensor:
    """Per sample (columns of a (steps, samples) bool tensor), the first iteration (1-based) whose flag
    is set, or steps + 1 if none is (censored: the attack did not get there within its budget)."""
    steps = flags.shape[0]
    index = torch.arange(1, steps + 1, dtype=torch.float64)[:, None].expand(flags.shape)
    return torch.where(flags, index, math.inf).amin(0).clamp(max=steps + 1)


def convergence(traces: dict[str, StepTrace], tolerance: float = 0.01) -> dict[str, dict[str, Tensor]]:
    """Per attack and image (paired: the traces ran on the same images): the first adversarial
    iteration, the final best norm, and the first iteration whose best norm is within ``tolerance``
    of the *lower* of the attacks' final best norms for that image (steps + 1 if never) — the
    papers' "reaches the lowest norm faster" (ANU Figs. 3–4)."""
    best = {label: trace.field("best_norm").double() for label, trace in traces.items()}
    lowest = torch.stack([b[-1] for b in best.values()]).amin(0)
    return {label: {"first adversarial": first_iteration(traces[label].field("adversarial")),
                    "final best L2": b[-1],
                    f"within {100 * tolerance:g} %": first_iteration(b <= (1 + tolerance) * lowest)}
            for label, b in best.items()}


def convergence_table(per_image: dict[str, dict[str, Tensor]], paired: tuple[str, str] | None = None) -> pd.DataFrame:
    """:func:`convergence` as a table: per attack the mean first adversarial iteration, the mean iteration
    within tolerance and the mean final best norm (bootstrap intervals; one image: the values), and with
    ``paired`` = (a, b) a row of the per-image differences a − b (paired bootstrap)."""
    from advlab.chapter.tables import row

    within = next(key for key in next(iter(per_image.values())) if key.startswith("within"))
    names = {"first adversarial iteration": "first adversarial", f"iterations to {within} of the lower final": within}
    rows = [row({**{k: stats.mean(c[v].numpy()) for k, v in names.items()},
                 "final mean_l2": stats.mean(c["final best L2"].numpy())}, attack=label) for label, c in per_image.items()]
    if paired is not None:
        a, b = (per_image[label] for label in paired)
        rows.append(row({k: stats.paired_difference(a[v].numpy(), b[v].numpy()) for k, v in names.items()},
                        attack=f"{paired[0]} − {paired[1]} (per image)"))
    return pd.DataFrame(rows)


def mean_curve(trace: StepTrace, resamples: int = 1000) -> pd.DataFrame:
    """The ANU Fig. 4 curves: per iteration the mean norm of the current iterates over all images,
    the share of images fooled so far (Wilson band) and the mean best adversarial norm over those
    images (bootstrap band over images), the mean and median γ_k and the share of γ_k at its bound."""
    norm, best, gamma = (trace.field(name).double().numpy() for name in ("norm", "best_norm", "gamma"))
    bound = trace.field("gamma_at_bound").numpy()
    rows = []
    for k in range(len(norm)):
        fooled = stats.rate(np.isfinite(best[k])).scaled(100)
        row = {"iteration": k + 1, "mean_norm": norm[k].mean(), "fooled_pct": fooled.value,
               "fooled_pct low": fooled.low, "fooled_pct high": fooled.high,
               "mean_gamma": gamma[k].mean(), "median_gamma": np.median(gamma[k]), "at_bound_pct": 100 * bound[k].mean()}
        if np.isfinite(best[k]).any():
            m = stats.bootstrap(lambda x: np.where(np.isfinite(x), x, 0).sum(-1) / np.isfinite(x).sum(-1), best[k],
                                resamples=resamples, method="bootstrap of the mean over the images fooled so far")
            row.update({"mean_best": m.value, "mean_best low": m.low, "mean_best high": m.high})
        rows.append(row)
    return pd.DataFrame(rows)


def plot_trajectories(axes, paths: dict[str, StepTrace | pd.DataFrame], *, best: bool = True,
                      boundary: float | None = None, gamma_max: float | None = None,
                      colors=("tab:blue", "tab:orange")) -> None:
    """Draw one image's trajectory per attack (a :class:`StepTrace`, its first sample, or a
    :meth:`StepTrace.frame`) on a column of ``axes``: with ``best`` first the smallest adversarial norm
    so far (ANU Fig. 3), then the norm of every iterate with the adversarial ones marked (and the
    boundary's distance, if known), last γ_k with × where ANU's update hit ``gamma_max`` (ANU Figs. 1–3)."""
    axes = list(axes)
    for (label, path), color in zip(paths.items(), colors):
        path = path.frame(0) if isinstance(path, StepTrace) else path
        adversarial, at_bound = path.adversarial.astype(bool), path.at_bound.astype(bool)
        if best:
            axes[0].step(path.iteration, path.best_norm.where(np.isfinite(path.best_norm)), where="post", color=color,
                         label=label)
        axes[-2].plot(path.iteration, path.norm, color=color, lw=1, label=f"{label}: ‖x'_k − x‖₂")
        axes[-2].plot(path.iteration[adversarial], path.norm[adversarial], ".", color=color, ms=4,
                      label=f"{label}: adversarial iterate")
        axes[-1].plot(path.iteration, path.gamma, color=color, label=label)
        axes[-1].plot(path.iteration[at_bound], path.gamma[at_bound], "x", color="red", ms=5)
    if best:
        axes[0].set(ylabel="min adversarial L2 so far")
    if boundary is not None:
        axes[-2].axhline(boundary, color="k", ls="--", lw=1, label=f"boundary at {boundary}")
    if gamma_max is not None:
        axes[-1].axhline(gamma_max, color="grey", ls=":", lw=1, label="γ bound (× where hit)")
    axes[-2].set(ylabel="L2 norm of the iterate")
    axes[-1].set(xlabel="iteration k (gradient computations)", ylabel="γ_k")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)


def plot_mean_curves(curves: dict[str, pd.DataFrame], title: str = "", colors=("tab:blue", "tab:orange")):
    """ANU Fig. 4 from :func:`mean_curve` per attack: the mean norm of the current iterates (log scale),
    the mean best adversarial norm with its 95 % band and the share of images fooled, the mean γ_k
    and the share at its bound. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(8, 9), sharex=True, gridspec_kw={"height_ratios": [2, 2, 1]})
    fooled, bound = axes[1].twinx(), axes[2].twinx()
    for (label, c), color in zip(curves.items(), colors):
        axes[0].plot(c.iteration, c.mean_norm, color=color, label=f"{label}: mean ‖x'_k − x‖₂")
        if "mean_best" in c:
            axes[1].plot(c.iteration, c.mean_best, color=color, label=f"{label}: mean best adversarial L2")
            axes[1].fill_between(c.iteration, c["mean_best low"], c["mean_best high"], color=color, alpha=0.2, lw=0)
        fooled.plot(c.iteration, c.fooled_pct, color=color, ls=":", lw=1, label=f"{label}: images fooled so far")
        axes[2].plot(c.iteration, c.mean_gamma, color=color, label=f"{label}: mean γ_k")
        if c.at_bound_pct.any():
            bound.plot(c.iteration, c.at_bound_pct, color="red", lw=1, ls=":", label=f"{label}: γ at its bound")
    axes[0].set(ylabel="mean L2 of current iterates", yscale="log", title=title)
    axes[1].set(ylabel="mean best adversarial L2\n(images fooled so far)")
    fooled.set(ylabel="images fooled (%)", ylim=(0, 105))
    axes[2].set(xlabel="iteration k", ylabel="mean γ_k")
    bound.set(ylabel="γ at bound (%)", ylim=(0, 105))
    for ax in (*axes, fooled, bound):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right" if ax in (fooled, bound) else "center right")
    fig.tight_layout()
    return fig


def gamma_bound(trace: StepTrace) -> dict[str, Estimate]:
    """Where ANU's update asked for γ_k above its bound: the share of samples that hit it at least once
    (Wilson), the share of all (sample, iteration) pairs at it (cluster bootstrap over samples, in %)
    and the median first iteration at the bound among the samples that hit it."""
    at_bound = trace.field("gamma_at_bound").T.numpy()  # (samples, steps)
    hit = at_bound.any(1)
    out = {"samples hitting the bound pct": stats.rate(hit).scaled(100),
           # equal clusters: the bootstrap of the per-sample shares is the cluster bootstrap of the rate
           "iterations at the bound pct": stats.mean(at_bound.mean(1)).scaled(100)}
    first = first_iteration(torch.from_numpy(at_bound.T)).numpy()[hit]
    out["first iteration at the bound"] = (stats.median(first) if len(first) else
                                           Estimate(math.nan, math.nan, math.nan, 0, "no sample hit the bound"))
    return out


def gamma_collapse(trace: StepTrace, reference: float) -> dict[str, Estimate]:
    """How far ANU's γ_k fell: the first iteration at which its median over samples is below ``reference``
    (e.g. DDN's fixed γ; steps + 1 if never), its median at the last iteration, the share of samples
    below ``reference`` there and the mean number of status changes (boundary crossings) per sample,
    each of which multiplies γ by (1 − α_γ,k)."""
    gamma = trace.field("gamma").double()
    adversarial = trace.field("adversarial")
    crossings = (adversarial[1:] != adversarial[:-1]).sum(0).double().numpy()
    below = first_iteration(gamma.median(1).values[:, None] < reference)[0].item()
    return {"median gamma below reference from iteration": stats.exact(below, gamma.shape[1]),
            "final gamma median": stats.median(gamma[-1].numpy()),
            "final gamma below reference pct": stats.rate(gamma[-1].numpy() < reference).scaled(100),
            "boundary crossings per image": stats.mean(crossings)}


def _synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def paired_timing(calls: dict[str, Callable[[], Any]], repeats: int) -> pd.DataFrame:
    """Time every call ``repeats`` times, interleaved (repeat r runs the calls in an order rotated by r,
    so no call always follows the same one): rows (repeat, label, seconds). A call returning an object
    with a ``seconds`` attribute (``run_attack``'s ``AttackResult``) is timed by it, so only the attack
    itself counts; any other call by its wall time (CUDA synchronised)."""
    if repeats < 1 or not calls:
        raise ValueError("need at least one call and one repeat")
    labels, rows = list(calls), []
    for repeat in range(repeats):
        shift = repeat % len(labels)
        for label in labels[shift:] + labels[:shift]:
            _synchronize()
            begin = time.perf_counter()
            out = calls[label]()
            _synchronize()
            elapsed = time.perf_counter() - begin
            seconds = getattr(out, "seconds", None)
            rows.append({"repeat": repeat, "label": label,
                         "seconds": float(seconds) if isinstance(seconds, (int, float)) else elapsed})
    return pd.DataFrame(rows)


def timing_ratio(timing: pd.DataFrame, label: str, reference: str, change: bool = False) -> Estimate:
    """time(label) / time(reference) from a :func:`paired_timing` frame: the ratio of mean seconds,
    paired bootstrap over the repeats (n = repeats); ``change=True``: the ratio − 1 (e.g. −0.3: 30 % less
    time, on the scale of ``stats.relative_difference``)."""
    table = timing.pivot(index="repeat", columns="label", values="seconds")
    ratio = stats.ratio(table[label].to_numpy(), table[reference].to_numpy())
    return Estimate(ratio.value - 1, ratio.low - 1, ratio.high - 1, ratio.n, ratio.method + " − 1") if change else ratio


def training_step(model: nn.Module, x: Tensor, y: Tensor, recipe) -> float:
    """One optimisation step of ``advlab.training.fit`` with ``recipe`` (its loss — adversarial
    examples included — and its optimizer, fresh) on a copy of ``model``; returns the loss. For
    timing recipes in the same conditions; augmentation is left out."""
    from advlab import training

    model = copy.deepcopy(model).requires_grad_(True).train()  # zoo models come frozen
    optimizer = training.make_optimizer(model, recipe)
    with torch.enable_grad():
        loss = training.recipe_loss(model, x, y, y, recipe)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
    optimizer.step()
    return loss.item()


def covered(*sets: AttackSet) -> int:
    """The number of leading test images every attack set covers: each set holds all the images
    among them that its models classify correctly (the rule of ``attack_set``)."""
    return min(s.indices[-1] + 1 for s in sets)


def on_first_images(attacked: AttackSet, values: Tensor, count: int, fill: float = 0.0) -> Tensor:
    """Per-image ``values`` of ``attacked`` (chosen by ``attack_set`` for one model) spread over the first
    ``count`` test images: the images the rule skipped (misclassified by that model) get ``fill``
    (distance 0: no perturbation needed). ``count`` must not exceed :func:`covered`."""
    if count > covered(attacked):
        raise ValueError(f"the attack set covers the first {covered(attacked)} test images, not {count}")
    if len(values) != len(attacked):
        raise ValueError(f"need one value per attacked image ({len(attacked)}), got {len(values)}")
    out = torch.full((count,), fill, dtype=torch.as_tensor(values).dtype)
    index = torch.tensor(attacked.indices)
    keep = index < count
    out[index[keep]] = torch.as_tensor(values)[keep]
    return out


def share_of_gap(start, candidate, reference) -> Estimate:
    """(mean(start) − mean(candidate)) / (mean(start) − mean(reference)) on the same images, paired
    bootstrap over the images where all three succeeded: the share of the gap between two runs (e.g.
    DDN-50 and DDN-100) that a third (ANU-50) closes (the ANU chapter's "Why our numbers differ")."""
    def share(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
        ok = np.isfinite(p) & np.isfinite(q) & np.isfinite(r)
        m = [np.where(ok, v, 0).sum(-1) / ok.sum(-1) for v in (p, q, r)]
        return (m[0] - m[1]) / (m[0] - m[2])

    return stats.bootstrap(share, start, candidate, reference,
                           method="paired bootstrap of (mean(start) − mean(candidate)) / (mean(start) − mean(reference))")
