"""Budgeted gradient attacks: FGM, I-FGM, PGD, MIM, and a per-sample minimal-ε search around any of them.

FGM and I-FGM are EAD's baselines (chapter ead), PGD is the convex and pgn chapters' baseline, MIM
the pgn chapter's white-box attack.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from advlab.attacks._common import (Attack, batch_view, ce_gradient, check_norm, is_adversarial, lp_norms, per_sample,
                                    project_lp_ball, steepest_unit, validate)


def fgm(model: nn.Module, inputs: Tensor, labels: Tensor, *, eps: float | Tensor, norm: float,
        targeted: bool = False, clip: bool = True) -> Tensor:
    """Fast gradient method, one step of size ε (EAD Eqs. 1–2; chapters ead and convex).

    x = clip(x₀ ± ε·d) with d = sign(∇J) for L∞ (FGSM) and d = ∇J/‖∇J‖_q for q ∈ {1, 2}, J the
    cross-entropy at the label (ascent) or at the target (descent, ``targeted``). FGM-L1 is EAD's
    dense step ∇J/‖∇J‖₁, not the sparse L1-steepest step (``gnii_perturbation`` with p = 1).
    ``eps`` may be a float or a per-sample tensor (N,). It is ``ifgm`` with one step.
    ``clip=False`` leaves the result unclipped, as the convex paper's official code (chapter convex).
    """
    return ifgm(model, inputs, labels, eps=eps, norm=norm, steps=1, targeted=targeted, clip=clip)


def ifgm(model: nn.Module, inputs: Tensor, labels: Tensor, *, eps: float | Tensor, norm: float, steps: int = 10,
         targeted: bool = False, clip: bool = True) -> Tensor:
    """Iterative FGM: ``steps`` FGM steps of size ε/steps with ε-ball projection (EAD, "Experiment Setup
    and Parameter Setting"; chapter ead).

    EAD runs 10 steps (CleverHans's default) with "ε-ball clipping", as this function does; the
    official script rescales L1/L2 perturbations onto the sphere instead.
    """
    norm = check_norm(norm)
    inputs, labels = validate(model, inputs, labels)
    eps = per_sample(eps, inputs, "eps")
    return _gradient_steps(model, inputs, labels, eps=eps, norm=norm, steps=steps, step_size=eps / max(steps, 1),
                           targeted=targeted, start=None, clip=clip)


def pgd(model: nn.Module, inputs: Tensor, labels: Tensor, *, eps: float | Tensor, norm: float, steps: int,
        step_size: float | Tensor | None = None, random_init: bool = True, targeted: bool = False,
        generator: torch.Generator | None = None, clip: bool = True) -> Tensor:
    """Projected gradient descent (Madry et al. 2018) in the L2 or L∞ ball (chapters convex and pgn).

    The convex paper's "iterative FGSM from a random point of the ε vicinity" and PGN's PGD-AT
    attack. From a start drawn uniformly in the ε-ball (``random_init``, from ``generator``; clipped
    to the box), ``steps`` steps of size ``step_size`` along sign(∇CE) (L∞) or ∇CE/‖∇CE‖₂ (L2), each
    followed by projection onto the ball and clipping to [0, 1] (``clip=False``: no clipping, as the
    convex paper's official code). Returns the last iterate.
    ``step_size=None`` means 2.5·ε/steps (Madry et al.'s rule), which follows a per-sample ε. PGN
    Table 1 gives 10 iterations; its official code's CleverHans setting is a step of ε/6. Neither
    paper states its PGD settings in full.
    """
    norm = check_norm(norm, (2, math.inf))
    inputs, labels = validate(model, inputs, labels)
    eps = per_sample(eps, inputs, "eps")
    start = None
    if random_init:
        if norm == math.inf:
            noise = torch.rand(inputs.shape, generator=generator, dtype=inputs.dtype, device=inputs.device) * 2 - 1
            start = noise * batch_view(eps, inputs)
        else:
            direction = torch.randn(inputs.shape, generator=generator, dtype=inputs.dtype, device=inputs.device)
            radius = torch.rand(inputs.shape[0], generator=generator, dtype=inputs.dtype, device=inputs.device)
            radius = eps * radius ** (1 / inputs[0].numel())
            start = direction * batch_view(radius / lp_norms(direction, 2), inputs)
        start = (inputs + start).clamp(0, 1) if clip else inputs + start
    if step_size is None:
        step_size = 2.5 * eps / max(steps, 1)
    return _gradient_steps(model, inputs, labels, eps=eps, norm=norm, steps=steps, step_size=step_size,
                           targeted=targeted, start=start, clip=clip)


def mim(model: nn.Module, inputs: Tensor, labels: Tensor, *, eps: float | Tensor, norm: float = 2, steps: int = 100,
        step_size: float | Tensor = 0.06, decay: float = 1.0, targeted: bool = False) -> Tensor:
    """Momentum iterative method (Dong et al. 2018, Algorithm 1, and its L2 variant) in the L2 or L∞ ball,
    as CleverHans 3.0.1's ``MomentumIterativeMethod`` (chapter pgn).

    From g₀ = 0 and x₀ = x, per step: g ← ``decay``·g + ∇J/‖∇J‖₁, then x ← x ± ``step_size``·d with
    d = g/‖g‖₂ (L2) or sign(g) (L∞), projected onto the ε-ball around x and clipped to [0, 1]; J is the
    cross-entropy at the label (ascent) or at the target (descent, ``targeted``). Returns the last
    iterate. ``eps`` and ``step_size`` may be floats or per-sample tensors (N,); ``decay=0`` is ``pgd``
    without random start. The defaults are PGN's white-box evaluation (L2, ε = 0.5, 100 iterations)
    with CleverHans's step 0.06 and decay 1.0. Where CleverHans differs from the paper: Dong et al.
    take T steps of ε/T, which stay in the ball by construction; CleverHans takes steps of a fixed
    ``eps_iter`` and projects. (It divides ∇J by the mean of abs(∇J), ‖∇J‖₁/n, which gives the same steps.)
    """
    norm = check_norm(norm, (2, math.inf))
    if not decay >= 0:
        raise ValueError(f"decay must be >= 0, got {decay!r}")
    inputs, labels = validate(model, inputs, labels)
    eps = per_sample(eps, inputs, "eps")
    return _gradient_steps(model, inputs, labels, eps=eps, norm=norm, steps=steps, step_size=step_size,
                           targeted=targeted, start=None, clip=True, decay=decay)


def _l1_normalized(grad: Tensor) -> Tensor:
    """∇/‖∇‖₁ per sample (EAD's dense FGM-L1 step, MIM's gradient normalisation); 0 for a zero gradient."""
    return grad / batch_view(lp_norms(grad, 1).clamp_min(1e-30), grad)


@torch.enable_grad()
def _gradient_steps(model: nn.Module, inputs: Tensor, labels: Tensor, *, eps: Tensor, norm: float, steps: int,
                    step_size: float | Tensor, targeted: bool, start: Tensor | None, clip: bool,
                    decay: float | None = None) -> Tensor:
    """The loop shared by FGM, I-FGM, PGD and MIM: normalised CE-gradient steps, Lp-ball projection, box
    clipping (``clip``). ``decay`` (MIM): step along the momentum g ← decay·g + ∇/‖∇‖₁ instead of ∇.

    ``inputs`` and ``labels`` come from ``validate``, ``eps`` from ``per_sample`` (the callers check them once).
    """
    step = batch_view(per_sample(step_size, inputs, "step_size"), inputs) * (-1.0 if targeted else 1.0)
    x_adv = inputs.clone() if start is None else start
    momentum = torch.zeros_like(inputs)
    for k in range(steps):
        grad = ce_gradient(model, x_adv, labels, first=k == 0)[1]
        if decay is not None:
            grad = momentum = decay * momentum + _l1_normalized(grad)
        if norm == 1:
            direction = _l1_normalized(grad)
        else:
            direction = steepest_unit(grad, norm)
        delta = project_lp_ball(x_adv + step * direction - inputs, eps, norm)
        x_adv = (inputs + delta).clamp(0, 1) if clip else inputs + delta
    return x_adv


def min_eps_search(model: nn.Module, inputs: Tensor, labels: Tensor, *, attack: Attack, targeted: bool = False,
                   eps_grid: Tensor | list[float] | None = None, eps_max: float | None = None,
                   search_steps: int = 10, **attack_kwargs) -> Tensor:
    """Per-sample smallest ε at which a budgeted ``attack`` (fgm, ifgm, pgd, mim, alg1, ...) succeeds.

    ``eps_grid``: EAD's protocol ("Experiment Setup and Parameter Setting", Table 4) — the grid is
    scanned in increasing order and each sample keeps the adversarial example of the first ε that
    succeeds (success need not be monotone in ε, so the scan is exhaustive); samples that succeeded
    drop out of later calls.
    ``eps_max``: bisection — one call at ε_max, then ``search_steps`` halvings of each sample's own
    interval [lo, hi] (per-sample ε); assumes success is monotone in ε. Success is recomputed from
    the model (argmax). Samples with no success return their clean input.
    """
    if (eps_grid is None) == (eps_max is None):
        raise ValueError("give exactly one of eps_grid (grid scan) and eps_max (bisection)")
    inputs, labels = validate(model, inputs, labels)
    best = inputs.clone()

    def run(index: Tensor, eps: Tensor | float) -> tuple[Tensor, Tensor]:
        adv = attack(model, inputs[index], labels[index], eps=eps, targeted=targeted, **attack_kwargs)
        with torch.no_grad():
            return adv, is_adversarial(model(adv), labels[index], targeted)

    if eps_grid is not None:
        todo = torch.arange(inputs.shape[0], device=inputs.device)
        for eps in sorted(float(e) for e in eps_grid):
            adv, success = run(todo, eps)
            best[todo[success]] = adv[success]
            todo = todo[~success]
            if len(todo) == 0:
                break
        return best

    adv, found = run(torch.arange(inputs.shape[0], device=inputs.device), eps_max)
    best[found] = adv[found]
    index = found.nonzero().squeeze(1)
    low = torch.zeros(len(index), dtype=inputs.dtype, device=inputs.device)
    high = torch.full_like(low, eps_max)
    for _ in range(search_steps if len(index) else 0):
        middle = (low + high) / 2
        adv, success = run(index, middle)
        best[index[success]] = adv[success]
        high, low = torch.where(success, middle, high), torch.where(success, low, middle)
    return best
