"""Linear multi-class models with exactly known minimal adversarial perturbations inside the [0,1] box.

The tests check every attack against them, and coursework ``minimal-norm-attack`` grades a student's attack
by its norm ratio to the exact optimum (``ratios``).

For logits Wx + b the untargeted misclassification region of class y is the union over j ≠ y of the
half-spaces {(w_j − w_y)·x + b_j − b_y ≥ 0}, so the minimal distance is the smallest distance to one
of them. The distance from x₀ to {a·x + c ≥ 0} ∩ [0,1]ⁿ is a one-dimensional monotone problem:

- L2: the KKT point is x(λ) = clip(x₀ + λa, 0, 1) with a·x(λ) + c = 0; λ ↦ a·x(λ) is piecewise linear
  and non-decreasing, solved exactly between its breakpoints.
- L∞: x(τ) = clip(x₀ + τ·sign(a), 0, 1), the same piecewise-linear root in τ.
- L1: a fractional knapsack: move coordinates fully, largest abs(a_i) first, the last one partially.

A targeted region is an intersection of half-spaces; its distance is at least the largest
half-space distance, with equality when that half-space's minimiser lies in all the others — the
targeted helper certifies this per sample and refuses otherwise (no attack is used anywhere).
"""

from __future__ import annotations

import math
import torch
from torch import Tensor, nn


class LinearModel(nn.Module):
    """logits = W·flatten(x) + b in float64, computed row by row (batch-size independent arithmetic)."""

    def __init__(self, weight: Tensor, bias: Tensor):
        super().__init__()
        self.weight = nn.Parameter(weight.double(), requires_grad=False)
        self.bias = nn.Parameter(bias.double(), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        flat = x.flatten(1).double()
        return (flat[:, None, :] * self.weight).sum(-1) + self.bias


def make_model(shape: tuple[int, ...], num_classes: int, *, scale: float, seed: int,
               spread: float = 1.0) -> LinearModel:
    """Random weights N(0, 1)·(column profile) scaled by ``scale`` / √n; ``spread`` > 1 makes the
    per-coordinate weight magnitudes non-uniform (log-uniform over a factor ``spread``)."""
    generator = torch.Generator().manual_seed(seed)
    n = math.prod(shape)
    profile = spread ** torch.rand(n, generator=generator, dtype=torch.float64)
    weight = torch.randn(num_classes, n, generator=generator, dtype=torch.float64) * profile * scale / math.sqrt(n)
    bias = torch.randn(num_classes, generator=generator, dtype=torch.float64) * scale * 0.1
    return LinearModel(weight, bias).eval()


def make_inputs(model: LinearModel, shape: tuple[int, ...], count: int, *, seed: int,
                min_distance: float = 0.05) -> tuple[Tensor, Tensor]:
    """``count`` inputs on the 8-bit grid (float32) and the model's predictions as labels.

    Only inputs whose exact untargeted L2 distance is at least ``min_distance`` are kept: 8-bit
    quantisation cannot represent perturbations much below 1/255 ≈ 0.004, which would dominate a
    norm ratio on samples lying on the boundary (0.05 is 13 quantisation steps).
    """
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randint(0, 256, (20 * count, *shape), generator=generator).float() / 255
    with torch.no_grad():
        labels = model(inputs).argmax(1)
    keep = (exact_distances(model, inputs, labels, 2) >= min_distance).nonzero().squeeze(1)[:count]
    if len(keep) < count:
        raise ValueError(f"only {len(keep)} of {20 * count} random inputs lie at least {min_distance} from the "
                         f"boundary; need {count}: lower min_distance or count")
    return inputs[keep], labels[keep]


def halfspace_distance(x0: Tensor, a: Tensor, c: float, p: float) -> tuple[float, Tensor]:
    """Exact min ‖x − x₀‖_p over {a·x + c ≥ 0} ∩ [0,1]ⁿ (float64, one sample); returns (distance, minimiser)."""
    x0, a = x0.double().flatten(), a.double().flatten()
    need = -(a @ x0 + c).item()
    if need <= 0:
        return 0.0, x0.clone()
    absa = a.abs()
    cap = torch.where(a > 0, 1 - x0, x0)              # how far each coordinate can move usefully
    gain = absa * cap                                 # margin gained by moving it fully
    if gain.sum().item() < need:
        return math.inf, x0.clone()
    if p == 1:
        order = torch.argsort(absa, descending=True)
        before = torch.cumsum(gain[order], 0) - gain[order]
        j = int((before + gain[order] >= need).nonzero()[0])
        move = torch.zeros_like(x0)
        move[order[:j]] = cap[order[:j]]
        move[order[j]] = (need - before[j]) / absa[order[j]]
    else:
        # x(λ) moves coordinate i by min(λ·s_i, cap_i): s = |a| (L2, along a) or 1 (L∞, along sign a)
        speed = absa if p == 2 else (absa > 0).double()
        breakpoint_ = torch.where(speed > 0, cap / speed.clamp_min(1e-300), math.inf)
        slope = absa * speed                          # d(margin)/dλ while coordinate i is free
        order = torch.argsort(breakpoint_)
        full = torch.cumsum(gain[order], 0) - gain[order]           # gain of the coordinates already capped
        free_slope = slope[order].flip(0).cumsum(0).flip(0)         # slope of those still free
        lam = (need - full) / free_slope.clamp_min(1e-300)
        previous = torch.cat([torch.zeros(1, dtype=torch.float64), breakpoint_[order][:-1]])
        j = int(((lam >= previous) & (lam <= breakpoint_[order])).nonzero()[0])
        move = torch.minimum(lam[j] * speed, cap)
    point = x0 + torch.where(a > 0, move, -move)
    return (point - x0).norm(p=p).item(), point


def _constraints(model: LinearModel, label: int, targeted: bool) -> tuple[Tensor, Tensor]:
    """Rows (a_j, c_j) of the half-spaces a_j·x + c_j ≥ 0 for every other class j."""
    others = [j for j in range(model.weight.shape[0]) if j != label]
    w, b = model.weight, model.bias
    if targeted:   # the target must beat every other class: intersection
        return w[label] - w[others], b[label] - b[others]
    return w[others] - w[label], b[others] - b[label]   # some class beats the label: union


def exact_distances(model: LinearModel, inputs: Tensor, labels: Tensor, p: float, *, targeted: bool = False) -> Tensor:
    """Exact minimal Lp distance per sample (untargeted: union; targeted: certified intersection)."""
    out = []
    for x0, label in zip(inputs, labels.tolist()):
        a_rows, c_rows = _constraints(model, label, targeted)
        solved = [halfspace_distance(x0, a, c.item(), p) for a, c in zip(a_rows, c_rows)]
        if not targeted:
            out.append(min(d for d, _ in solved))
            continue
        distance, point = max(solved, key=lambda item: item[0])
        if ((a_rows @ point + c_rows) < -1e-9).any():
            raise ValueError("targeted optimum not certified: the farthest half-space's minimiser violates another")
        out.append(distance)
    return torch.tensor(out, dtype=torch.float64)


def certified_targets(model: LinearModel, inputs: Tensor, labels: Tensor, norms=(1, 2, math.inf)) -> Tensor:
    """Per sample, the most likely other class whose targeted optimum is certified in every norm of ``norms``."""
    with torch.no_grad():
        ranking = model(inputs).argsort(1, descending=True)
    targets = []
    for i, label in enumerate(labels.tolist()):
        for target in ranking[i].tolist():
            if target == label:
                continue
            try:
                for p in norms:
                    exact_distances(model, inputs[i:i + 1], torch.tensor([target]), p, targeted=True)
            except ValueError:
                continue
            targets.append(target)
            break
        else:
            raise ValueError(f"no certified target for sample {i}")
    return torch.tensor(targets)


def ratios(model: LinearModel, inputs: Tensor, adv: Tensor, labels: Tensor, p: float, *,
           targeted: bool = False) -> Tensor:
    """‖adv − x‖_p / exact optimum per sample."""
    return (adv - inputs).flatten(1).double().norm(p=p, dim=1) / exact_distances(model, inputs, labels, p,
                                                                                 targeted=targeted)
