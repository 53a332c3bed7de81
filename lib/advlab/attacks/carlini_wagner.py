"""Carlini & Wagner L2 attack (S&P 2017), the baseline of the DDN and EAD papers (chapters ddn, ead)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from advlab.attacks._common import (batch_view, check_label_range, is_adversarial, keep_best, margin_loss,
                                    update_trade_off, validate)

_BETA1, _BETA2, _ADAM_EPS = 0.9, 0.999, 1e-8


@torch.enable_grad()
def carlini_wagner_l2(model: nn.Module, inputs: Tensor, labels: Tensor, *, targeted: bool = False,
                      confidence: float = 0.0, learning_rate: float = 0.01, initial_const: float = 1e-3,
                      binary_search_steps: int = 9, max_iterations: int = 10000,
                      abort_early: bool = True, return_best_const: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """C&W L2 (DDN paper Eq. 5; EAD §3.5 "C&W baseline"; chapters ddn and ead).

    Minimises ‖x̃ − x‖₂² + c·max(±(Z_y − max_{j≠y} Z_j) + κ, 0) over w, with x̃ = ½(tanh(atanh(2x − 1) + w) + 1),
    by Adam (β = 0.9, 0.999) from w = 0 in each of ``binary_search_steps`` rounds of ``max_iterations``
    steps. Per sample: c starts at ``initial_const`` and is multiplied by 10 until a round succeeds,
    then bisected (``update_trade_off``); with 10 or more rounds the last one uses the upper bound
    (C&W's "repeat"). An iterate counts as adversarial with the κ-shifted argmax test and the
    smallest-L2 adversarial iterate over all rounds is returned (the clean input if none).

    Early abort is per sample: every ``max_iterations // 10`` iterations a sample whose own loss did
    not fall below 0.9999 × its loss at the previous check stops (its w and Adam state freeze), and
    the round ends when every sample has stopped. The reference code compares the loss summed over
    the batch, which makes a sample's result depend on its neighbours. Adam is written out with
    per-sample step counts so that a frozen sample's state stays untouched.

    ``return_best_const=True`` returns ``(adv_inputs, best_const)`` instead, where ``best_const[i]`` is
    the constant c of the round in which sample i's returned example was found (NaN if no round
    succeeded): "the best C found by the C&W algorithm" of the DDN paper's Fig. 2 (chapter ddn).
    The attack itself is the same; only the return value changes.
    """
    inputs, labels = validate(model, inputs, labels)
    batch = inputs.shape[0]
    view = lambda values: batch_view(values, inputs)  # noqa: E731
    w_inputs = torch.atanh((2 * inputs - 1) * (1 - 1e-6))
    check_every = max(1, max_iterations // 10)

    const = torch.full((batch,), initial_const, dtype=inputs.dtype, device=inputs.device)
    lower, upper = torch.zeros_like(const), torch.full_like(const, 1e10)
    best_l2 = torch.full_like(const, math.inf)
    best_adv = inputs.clone()
    best_const = torch.full_like(const, math.nan)

    for outer in range(binary_search_steps):
        if binary_search_steps >= 10 and outer == binary_search_steps - 1:
            const = upper
        w = torch.zeros_like(inputs)
        moment1, moment2 = torch.zeros_like(inputs), torch.zeros_like(inputs)
        adam_steps = torch.zeros_like(const)
        active = torch.ones(batch, dtype=torch.bool, device=inputs.device)
        round_success = torch.zeros_like(active)
        previous_loss = torch.full_like(const, math.inf)

        for i in range(max_iterations):
            w.requires_grad_(True)
            x_adv = (torch.tanh(w_inputs + w) + 1) / 2
            l2_squared = (x_adv - inputs).flatten(1).pow(2).sum(1)
            logits = model(x_adv)
            if outer == 0 and i == 0:
                check_label_range(logits, labels)
            loss = l2_squared + const * margin_loss(logits, labels, targeted, confidence)
            grad = torch.autograd.grad(loss.sum(), w)[0]
            w, x_adv, loss = w.detach(), x_adv.detach(), loss.detach()

            adv = is_adversarial(logits.detach(), labels, targeted, confidence)
            round_success |= adv
            l2 = l2_squared.detach().sqrt()
            if return_best_const:  # the same test as keep_best's, before best_l2 is updated
                best_const = torch.where(adv & (l2 < best_l2), const, best_const)
            best_l2, best_adv = keep_best(best_l2, best_adv, l2, x_adv, adv)

            if abort_early and i % check_every == 0:
                active &= loss <= previous_loss * 0.9999
                previous_loss = loss
                if not active.any():
                    break

            adam_steps = adam_steps + active
            moment1 = torch.where(view(active), _BETA1 * moment1 + (1 - _BETA1) * grad, moment1)
            moment2 = torch.where(view(active), _BETA2 * moment2 + (1 - _BETA2) * grad.square(), moment2)
            step_count = adam_steps.clamp_min(1)
            update = (moment1 / view(1 - _BETA1 ** step_count)) / (
                (moment2 / view(1 - _BETA2 ** step_count)).sqrt() + _ADAM_EPS)
            w = torch.where(view(active), w - learning_rate * update, w)

        const, lower, upper = update_trade_off(const, lower, upper, round_success)
    return (best_adv, best_const) if return_best_const else best_adv
