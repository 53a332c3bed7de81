"""Carlini & Wagner L2 attack (S&P 2017), the baseline of the DDN and EAD papers (chapters ddn, ead), and its
change-of-variable extension to EAD's elastic-net objective (EAD's COV baseline, chapter ead)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from advlab.attacks._common import (BestIterates, SearchCallback, batch_view, check_decision_rules, check_label_range,
                                    is_adversarial, margin_loss, report_round, rule_distances, update_trade_off,
                                    validate)

_BETA1, _BETA2, _ADAM_EPS = 0.9, 0.999, 1e-8


def carlini_wagner_l2(model: nn.Module, inputs: Tensor, labels: Tensor, *, targeted: bool = False,
                      kappa: float = 0.0, learning_rate: float = 0.01, initial_const: float = 1e-3,
                      search_steps: int = 9, steps: int = 10000, abort_early: bool = True,
                      callback: SearchCallback | None = None) -> Tensor:
    """C&W L2 (DDN paper Eq. 5; EAD's C&W baseline, "Experiment Setup and Parameter Setting"; chapters ddn, ead).

    Minimises ‖x̃ − x‖₂² + c·max(±(Z_y − max_{j≠y} Z_j) + κ, 0) over w, with x̃ = ½(tanh(atanh(2x − 1) + w) + 1),
    by Adam (β = 0.9, 0.999) from w = 0 in each of ``search_steps`` rounds of ``steps`` steps
    (C&W's binary-search steps and iterations). Per sample: c starts at ``initial_const`` and is
    multiplied by 10 until a round succeeds, then bisected (``update_trade_off``); with 10 or more
    rounds the last one uses the upper bound (C&W's "repeat"). An iterate counts as adversarial with
    the κ-shifted argmax test and the smallest-L2 adversarial iterate over all rounds is returned
    (the clean input if none; compared by ‖δ‖₂², as C&W's code does).

    Early abort is per sample: every ``steps // 10`` steps a sample whose own loss did not fall
    below 0.9999 × its loss at the previous check stops (its w and Adam state freeze, and it leaves
    the batch: only the samples still optimising go through the model, so "gradients" counts each
    sample's own steps, as the DDN paper's #Grads does), and the round ends when every sample has
    stopped. The reference code compares the loss summed over the batch,
    which makes a sample's result depend on its neighbours. Adam is written out with per-sample step
    counts so that a frozen sample's state stays untouched.

    ``callback``: if given, called after every round with a ``SearchRound`` whose ``best_const["L2"]``
    is, per sample, the c of the round that found the returned example (NaN if none): after the
    last round, "the best C found by the C&W algorithm" of the DDN paper's Fig. 2. It does not
    change the result.

    It is ``elastic_net_cov`` with β = 0 and the EN rule (EAD Eq. 7 with β = 0 is C&W's objective).
    """
    def as_l2(state):  # the EN rule with β = 0 selects by ‖δ‖₂²: report it as ‖δ‖₂ under the key "L2"
        callback(state._replace(best_distance={"L2": state.best_distance["EN"].sqrt()},
                                best_const={"L2": state.best_const["EN"]}))

    return _tanh_adam_search(model, inputs, labels, targeted=targeted, beta=0.0, kappa=kappa,
                             learning_rate=learning_rate, initial_const=initial_const, search_steps=search_steps,
                             steps=steps, abort_early=abort_early, decision_rules=("EN",),
                             callback=None if callback is None else as_l2)["EN"]


def elastic_net_cov(model: nn.Module, inputs: Tensor, labels: Tensor, *, targeted: bool = False, beta: float = 1e-3,
                    kappa: float = 0.0, learning_rate: float = 0.01, initial_const: float = 1e-3,
                    search_steps: int = 9, steps: int = 1000, abort_early: bool = False, decision_rule: str = "EN",
                    callback: SearchCallback | None = None) -> Tensor:
    """EAD's change-of-variable (COV) baseline (EAD paper, "Sensitivity Analysis and Decision Rule for EAD",
    Tables 1 and 5; chapter ead).

    EAD's elastic-net objective (Eq. 7) c·f(x) + β‖x − x₀‖₁ + ‖x − x₀‖₂² optimised as C&W do, over w
    with x = ½(1 + tanh w) (here w = atanh(2x₀ − 1) + w′ from w′ = 0), by Adam; the L1 term is
    differentiated by autograd (its subgradient, sign(δ)). The binary search on c, the early abort
    and the per-sample state are ``carlini_wagner_l2``'s (same loop); ``decision_rule`` picks, among
    the successful iterates of all rounds, the smallest β‖δ‖₁ + ‖δ‖₂² ("EN") or ‖δ‖₁ ("L1"), as in
    ``ead``. With β = 0 and the EN rule it is C&W-L2, iterate for iterate.

    The paper's finding (Tables 1, 5): COV reaches EAD's success rates, but its distortions (L1, L2,
    L∞) are insensitive to β, whereas EAD's L1 falls as β grows; the paper puts it down to the
    inefficiency of subgradient methods (Duchi & Singer 2009) and notes that the tanh inside the
    L1 term rules out ISTA.

    ``callback``: as ``ead_rules``', with the one rule's key.
    """
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    return _tanh_adam_search(model, inputs, labels, targeted=targeted, beta=beta, kappa=kappa,
                             learning_rate=learning_rate, initial_const=initial_const, search_steps=search_steps,
                             steps=steps, abort_early=abort_early, decision_rules=(decision_rule,),
                             callback=callback)[decision_rule]


@torch.enable_grad()
def _tanh_adam_search(model: nn.Module, inputs: Tensor, labels: Tensor, *, targeted: bool, beta: float, kappa: float,
                      learning_rate: float, initial_const: float, search_steps: int, steps: int, abort_early: bool,
                      decision_rules: tuple[str, ...], callback: SearchCallback | None) -> dict[str, Tensor]:
    """The loop of ``carlini_wagner_l2`` and ``elastic_net_cov``: c·f + β‖δ‖₁ + ‖δ‖₂² by Adam over the tanh
    variable, with C&W's binary search on c; the best iterate per decision rule (``rule_distances``)."""
    check_decision_rules(decision_rules)
    inputs, labels = validate(model, inputs, labels)
    batch = inputs.shape[0]
    w_inputs = torch.atanh((2 * inputs - 1) * (1 - 1e-6))
    check_every = max(1, steps // 10)

    const = torch.full((batch,), initial_const, dtype=inputs.dtype, device=inputs.device)
    lower, upper = torch.zeros_like(const), torch.full_like(const, 1e10)
    best = BestIterates(inputs, decision_rules)

    for outer in range(search_steps):
        if search_steps >= 10 and outer == search_steps - 1:
            const = upper
        w = torch.zeros_like(inputs)
        moment1, moment2 = torch.zeros_like(inputs), torch.zeros_like(inputs)
        adam_steps = torch.zeros_like(const)
        active = torch.ones(batch, dtype=torch.bool, device=inputs.device)
        round_success = torch.zeros_like(active)
        previous_loss = torch.full_like(const, math.inf)

        for i in range(steps):
            # only the samples still optimising go through the model (a stopped sample's w is frozen)
            index = active.nonzero().squeeze(1)
            w_active = w[index].requires_grad_(True)
            x_adv = (torch.tanh(w_inputs[index] + w_active) + 1) / 2
            delta = (x_adv - inputs[index]).flatten(1)
            distortion = delta.pow(2).sum(1)
            if beta:
                distortion = distortion + beta * delta.abs().sum(1)
            logits = model(x_adv)
            if outer == 0 and i == 0:
                check_label_range(logits, labels)
            loss = distortion + const[index] * margin_loss(logits, labels[index], targeted, kappa)
            grad = torch.autograd.grad(loss.sum(), w_active)[0]
            x_adv, loss = x_adv.detach(), loss.detach()

            adv = is_adversarial(logits.detach(), labels[index], targeted, kappa)
            round_success[index] |= adv
            best.update(index, rule_distances(delta.detach(), beta, decision_rules), x_adv, adv, const[index])

            if abort_early and i % check_every == 0:
                going = loss <= previous_loss[index] * 0.9999
                previous_loss[index] = loss.to(previous_loss.dtype)
                active[index] = going
                if not going.any():
                    break
                index, grad = index[going], grad[going]

            adam_steps[index] += 1
            moment1[index] = _BETA1 * moment1[index] + (1 - _BETA1) * grad
            moment2[index] = _BETA2 * moment2[index] + (1 - _BETA2) * grad.square()
            step_count = batch_view(adam_steps[index], grad)
            update = (moment1[index] / (1 - _BETA1 ** step_count)) / (
                (moment2[index] / (1 - _BETA2 ** step_count)).sqrt() + _ADAM_EPS)
            w[index] = w[index] - learning_rate * update

        report_round(callback, outer, const, round_success, best.distance, best.const)
        const, lower, upper = update_trade_off(const, lower, upper, round_success)
    return best.adv
