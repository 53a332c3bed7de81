"""The convex-programming framework of Balda, Behboodi & Mathar (2018): closed forms, Algorithms 1, 1-n, 2
and the random ±ε baseline.

Chapter convex explains these functions. The closed form of Eq. 8 (one DeepFool step) is
``linearized_boundary_step`` in ``advlab.attacks._common``, shared with ``deepfool``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from advlab.attacks._common import (batch_view, check_label_range, check_norm, class_gradients, per_sample,
                                    steepest_unit, validate)


def gnii_perturbation(grad: Tensor, eps: float | Tensor, p: float) -> Tensor:
    """Closed-form minimiser of (GNII): min_η L(x) + ηᵀ∇L s.t. ‖η‖_p ≤ ε (Proposition 2, Eqs. 6–7; chapter convex).

    η = −ε·sign(∇L)·abs(∇L)^{q−1}/‖∇L‖_q^{q−1}, q = p/(p − 1), per sample: p = ∞ gives −ε·sign(∇L)
    (FGSM when L = −cross-entropy), p = 2 gives −ε·∇L/‖∇L‖₂, p = 1 moves the single coordinate of
    largest abs(∂L/∂x_i). The minimum value is L(x) − ε‖∇L‖_q.
    """
    eps = per_sample(eps, grad, "eps")
    return -batch_view(eps, grad) * steepest_unit(grad, check_norm(p))


def alg1(model: nn.Module, inputs: Tensor, labels: Tensor, *, eps: float | Tensor, targeted: bool = False,
         clip: bool = True) -> Tensor:
    """Algorithm 1: the exact (GNII) solution for L = min_{l≠k} f_k − f_l (Eq. 3) under ‖η‖∞ ≤ ε (chapter convex).

    For every class l ≠ k (k = the label) it linearises the logit margin f_k − f_l at x, computes the
    best value reachable in the ℓ∞ ball intersected with the box [0,1]ⁿ, and takes the step of the
    class with the lowest value: the official code's ε-dependent class choice, the exact (GNII)
    solution, where the text's ∇ₓL(x) would fix l as the runner-up at x (a departure; see the
    chapter's 'Departures from the paper'). The box is added to (GNII) as Proposition 2 allows
    ("other convex constraints"); for p = ∞ it keeps the problem separable, so
    η_i = clip(−ε·sign(w_i), −x_i, 1 − x_i) remains exact; ``clip=False`` drops the box, as the
    official code does. Logits, not the probabilities of Eq. 2, as in the official code (a departure;
    see the chapter's 'Departures from the paper'). Untargeted only. Costs one forward and K backward passes.
    """
    return alg1_n(model, inputs, labels, eps=eps, steps=1, targeted=targeted, clip=clip)


@torch.enable_grad()
def alg1_n(model: nn.Module, inputs: Tensor, labels: Tensor, *, eps: float | Tensor, steps: int,
           targeted: bool = False, clip: bool = True) -> Tensor:
    """Algorithm 1-n with n = ``steps``: n Algorithm-1 steps of ℓ∞ size ε/n, re-linearised at x + η; k stays
    the label (Section V; chapter convex).

    The total perturbation satisfies ‖η‖∞ ≤ ε without projection. ``steps=1`` is Algorithm 1.
    """
    if targeted:
        raise ValueError("alg1 / alg1_n are untargeted (the fooling condition of Eq. 3)")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    inputs, labels = validate(model, inputs, labels)
    step = batch_view(per_sample(eps, inputs, "eps") / steps, inputs)
    x_adv = inputs
    for i in range(steps):
        x_adv = x_adv.detach().requires_grad_(True)
        logits = model(x_adv)
        if i == 0:
            check_label_range(logits, labels)
            classes = torch.arange(logits.shape[1], device=inputs.device).expand(inputs.shape[0], -1)
        jacobian = class_gradients(logits, x_adv, classes)
        x = x_adv.detach().unsqueeze(1)
        w = jacobian.gather(1, batch_view(labels, jacobian).expand(-1, 1, *jacobian.shape[2:])) - jacobian
        candidates = x - step.unsqueeze(1) * w.sign()
        if clip:
            candidates = candidates.clamp(0, 1)
        margins = logits.detach().gather(1, labels[:, None]) - logits.detach()
        values = margins + (w * (candidates - x)).flatten(2).sum(2)
        values = values.scatter(1, labels[:, None], math.inf)
        best = values.argmin(1)
        x_adv = candidates[torch.arange(inputs.shape[0], device=inputs.device), best]
    return x_adv.detach()


@torch.enable_grad()
def alg2(model: nn.Module, inputs: Tensor, labels: Tensor, *, eps: float | Tensor, targeted: bool = False,
         clip: bool = True) -> Tensor:
    """Algorithm 2: (GNII) with L ≈ f_k(x), p = ∞: x + η, η = −ε·sign(∇f_k), clipped to [0, 1] unless
    ``clip=False`` (the official code) (chapter convex).

    No class search; like FGSM, L(x + η) < 0 is not a fooling guarantee. Untargeted only.
    """
    if targeted:
        raise ValueError("alg2 is untargeted")
    inputs, labels = validate(model, inputs, labels)
    x = inputs.clone().requires_grad_(True)
    logits = model(x)
    check_label_range(logits, labels)
    grad = torch.autograd.grad(logits.gather(1, labels[:, None]).sum(), x)[0]
    adv = inputs + gnii_perturbation(grad, eps, math.inf)
    return adv.clamp(0, 1) if clip else adv


def random_sign(model: nn.Module, inputs: Tensor, labels: Tensor, *, eps: float | Tensor, targeted: bool = False,
                clip: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """The convex paper's random baseline (Section V): i.i.d. entries ±ε with probability ½ each, from
    ``generator``; clipped to [0, 1] unless ``clip=False`` (the official code) (chapter convex).

    The model is not queried (``model`` and ``labels`` are validated only, so it plugs in where an attack does).
    """
    if targeted:
        raise ValueError("random_sign is untargeted")
    inputs, labels = validate(model, inputs, labels)
    signs = torch.randint(0, 2, inputs.shape, generator=generator, device=inputs.device).to(inputs.dtype) * 2 - 1
    adv = inputs + batch_view(per_sample(eps, inputs, "eps"), inputs) * signs
    return adv.clamp(0, 1) if clip else adv
