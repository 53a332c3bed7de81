"""DeepFool (Moosavi-Dezfooli et al., CVPR 2016), L2 and L∞: baseline of the DDN, PGN and convex chapters."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from advlab.attacks._common import (check_label_range, check_norm, class_gradients, dual_norm,
                                    linearized_boundary_step, lp_norms, validate)


@torch.enable_grad()
def deepfool(model: nn.Module, inputs: Tensor, labels: Tensor, *, targeted: bool = False, norm: float = 2,
             steps: int = 50, overshoot: float = 0.02, candidates: int | None = 10, clip: bool = True) -> Tensor:
    """DeepFool, batched with a per-sample stop (convex paper Section III, Eq. 8; chapters ddn, pgn, convex).

    Each step linearises the margins f_l − f_k (k = label) of the ``candidates`` classes with the
    highest clean logits (10 in DeepFool's and CleverHans's code; None = all classes), picks
    l̂ = argmin abs(f_l − f_k) / ‖∇f_l − ∇f_k‖_q and adds the Eq. 8 step ``linearized_boundary_step``
    for L = f_k − f_l̂ + 10⁻⁴ (the original code's 10⁻⁴) to the total r. The iterate is
    clip(x + (1 + overshoot)·r, 0, 1) (overshoot on the total, as in the original code; the convex
    paper's code adds (1 + overshoot)·step to r at each step, the same iterates; ``clip=False`` leaves
    them unclipped, as that code does). A sample stops, and keeps its iterate, as soon as it is
    misclassified: only the samples still classified as their label are forwarded. Untargeted only; ``steps``
    iterations cost one forward and ``candidates`` backward passes each, per sample still attacked.
    """
    if targeted:
        raise ValueError("deepfool is an untargeted attack")
    p = check_norm(norm, (2, float("inf")))
    inputs, labels = validate(model, inputs, labels)
    total = torch.zeros_like(inputs)
    x_adv = inputs.clone()
    index = torch.arange(inputs.shape[0], device=inputs.device)  # the samples still classified as their label
    for k in range(steps):
        x = x_adv[index].requires_grad_(True)  # only they are forwarded (adv_lib's ``df`` does the same)
        logits = model(x)
        if k == 0:
            check_label_range(logits, labels)
            count = logits.shape[1] if candidates is None else min(candidates, logits.shape[1])
            # the label first (for a misclassified sample, already stopped, any order works), then the rest
            others = logits.detach().scatter(1, labels[:, None], -float("inf")).topk(count - 1, dim=1).indices
            classes = torch.cat([labels[:, None], others], 1)
        still = logits.detach().argmax(1) == labels[index]
        if not still.any():
            break
        grads = class_gradients(logits, x, classes[index])[still]
        chosen = logits.detach().gather(1, classes[index])[still]
        index = index[still]
        margins = chosen[:, :1] - chosen[:, 1:]                       # f_k − f_l ≥ 0 while correct
        w = grads[:, :1] - grads[:, 1:]                               # ∇(f_k − f_l)
        ratios = margins / lp_norms(w.flatten(0, 1), dual_norm(p)).view_as(margins).clamp_min(1e-30)
        best = ratios.argmin(1)
        rows = torch.arange(len(index), device=inputs.device)
        total[index] += linearized_boundary_step(margins[rows, best] + 1e-4, w[rows, best], p)
        iterate = inputs[index] + (1 + overshoot) * total[index]
        x_adv[index] = iterate.clamp(0, 1) if clip else iterate
    return x_adv.detach()
