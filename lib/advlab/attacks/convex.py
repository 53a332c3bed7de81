"""The convex-programming framework of Balda, Behboodi & Mathar (2018): closed forms and Algorithms 1, 1-n, 2.

Chapter convex explains these functions; ``deepfool`` uses ``linearized_boundary_step`` (Eq. 8).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from advlab.attacks._common import (batch_view, check_label_range, check_norm, class_gradients, dual_norm, lp_norms,
                                    per_sample, steepest_unit, validate)


def gnii_perturbation(grad: Tensor, eps: float | Tensor, p: float) -> Tensor:
    """Closed-form minimiser of (GNII): min_η L(x) + ηᵀ∇L s.t. ‖η‖_p ≤ ε (Proposition 2, Eqs. 6–7; chapter convex).

    η = −ε·sign(∇L)·abs(∇L)^{q−1}/‖∇L‖_q^{q−1}, q = p/(p − 1), per sample: p = ∞ gives −ε·sign(∇L)
    (FGSM when L = −cross-entropy), p = 2 gives −ε·∇L/‖∇L‖₂, p = 1 moves the single coordinate of
    largest abs(∂L/∂x_i). The minimum value is L(x) − ε‖∇L‖_q.
    """
    eps = per_sample(eps, grad, "eps")
    return -batch_view(eps, grad) * steepest_unit(grad, check_norm(p))


def linearized_boundary_step(value: Tensor, grad: Tensor, p: float) -> Tensor:
    """Closed-form minimiser of Eq. 8: min_η ‖η‖_p s.t. L(x) + ηᵀ∇L ≤ 0, for L(x) = ``value`` (N,); η = 0 where L ≤ 0.

    The smallest budget that makes (GNII) reach 0 is L/‖∇L‖_q (Proposition 1), attained in the
    GNII direction: η = gnii_perturbation(∇L, L/‖∇L‖_q, p). With L = f_k − f_l this is one DeepFool
    step (§2.4; chapter convex).
    """
    p = check_norm(p)
    return gnii_perturbation(grad, value.clamp_min(0) / lp_norms(grad, dual_norm(p)).clamp_min(1e-30), p)


def alg1(model: nn.Module, inputs: Tensor, labels: Tensor, *, eps: float | Tensor, targeted: bool = False) -> Tensor:
    """Algorithm 1: the exact (GNII) solution for L = min_{l≠k} f_k − f_l (Eq. 3) under ‖η‖∞ ≤ ε (chapter convex).

    For every class l ≠ k (k = the label) it linearises the logit margin f_k − f_l at x, computes the
    best value reachable in the ℓ∞ ball intersected with the box [0,1]ⁿ, and takes the step of the
    class with the lowest value (the official code's ε-dependent class choice, convex.md §4.2).
    The box is added to (GNII) as the paper allows ("other convex constraints"); for p = ∞ it keeps
    the problem separable, so η_i = clip(−ε·sign(w_i), −x_i, 1 − x_i) remains exact. Logits, not
    probabilities, as in the official code (§4.1). Untargeted only. Costs one forward and K backward passes.
    """
    return alg1_n(model, inputs, labels, eps=eps, n=1, targeted=targeted)


@torch.enable_grad()
def alg1_n(model: nn.Module, inputs: Tensor, labels: Tensor, *, eps: float | Tensor, n: int,
           targeted: bool = False) -> Tensor:
    """Algorithm 1-n: n Algorithm-1 steps of ℓ∞ size ε/n, re-linearised at x + η; k stays the label (chapter convex).

    The total perturbation satisfies ‖η‖∞ ≤ ε without projection. n = 1 is Algorithm 1.
    """
    if targeted:
        raise ValueError("alg1 / alg1_n are untargeted (the fooling condition of Eq. 3)")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    inputs, labels = validate(model, inputs, labels)
    step = batch_view(per_sample(eps, inputs, "eps") / n, inputs)
    x_adv = inputs
    for i in range(n):
        x_adv = x_adv.detach().requires_grad_(True)
        logits = model(x_adv)
        if i == 0:
            check_label_range(logits, labels)
            classes = torch.arange(logits.shape[1], device=inputs.device).expand(inputs.shape[0], -1)
        jacobian = class_gradients(logits, x_adv, classes)
        x = x_adv.detach().unsqueeze(1)
        w = jacobian.gather(1, batch_view(labels, jacobian).expand(-1, 1, *jacobian.shape[2:])) - jacobian
        candidates = (x - step.unsqueeze(1) * w.sign()).clamp(0, 1)
        margins = logits.detach().gather(1, labels[:, None]) - logits.detach()
        values = margins + (w * (candidates - x)).flatten(2).sum(2)
        values = values.scatter(1, labels[:, None], math.inf)
        best = values.argmin(1)
        x_adv = candidates[torch.arange(inputs.shape[0], device=inputs.device), best]
    return x_adv.detach()


@torch.enable_grad()
def alg2(model: nn.Module, inputs: Tensor, labels: Tensor, *, eps: float | Tensor, targeted: bool = False) -> Tensor:
    """Algorithm 2: (GNII) with L ≈ f_k(x), p = ∞: x + η, η = −ε·sign(∇f_k), clipped to [0, 1] (chapter convex).

    No class search; like FGSM, L(x + η) < 0 is not a fooling guarantee. Untargeted only.
    """
    if targeted:
        raise ValueError("alg2 is untargeted")
    inputs, labels = validate(model, inputs, labels)
    x = inputs.clone().requires_grad_(True)
    logits = model(x)
    check_label_range(logits, labels)
    grad = torch.autograd.grad(logits.gather(1, labels[:, None]).sum(), x)[0]
    return (inputs + gnii_perturbation(grad, eps, math.inf)).clamp(0, 1)
