"""EAD: elastic-net attack by projected FISTA with shrinkage-thresholding (Chen et al., AAAI 2018; chapter ead)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from advlab.attacks._common import (DECISION_RULES, BestIterates, SearchCallback, check_decision_rules,
                                    check_label_range, is_adversarial, margin_loss, report_round, rule_distances,
                                    update_trade_off, validate)


def ead(model: nn.Module, inputs: Tensor, labels: Tensor, *, targeted: bool = False, beta: float = 1e-3,
        kappa: float = 0.0, learning_rate: float = 0.01, initial_const: float = 1e-3, search_steps: int = 9,
        steps: int = 1000, decision_rule: str = "EN", callback: SearchCallback | None = None) -> Tensor:
    """EAD with one decision rule, "EN" or "L1" (EAD, Fig. 2 and its text); see ``ead_rules`` for the
    algorithm and the ``callback`` (chapter ead)."""
    return ead_rules(model, inputs, labels, targeted=targeted, beta=beta, kappa=kappa, learning_rate=learning_rate,
                     initial_const=initial_const, search_steps=search_steps, steps=steps,
                     decision_rules=(decision_rule,), callback=callback)[decision_rule]


@torch.enable_grad()
def ead_rules(model: nn.Module, inputs: Tensor, labels: Tensor, *, targeted: bool = False, beta: float = 1e-3,
              kappa: float = 0.0, learning_rate: float = 0.01, initial_const: float = 1e-3, search_steps: int = 9,
              steps: int = 1000, decision_rules: tuple[str, ...] = DECISION_RULES,
              callback: SearchCallback | None = None) -> dict[str, Tensor]:
    """EAD (EAD paper Algorithm 1, Eqs. 7–9): one run, the result of every decision rule (chapter ead).

    Minimises c·f(x) + β‖x − x₀‖₁ + ‖x − x₀‖₂² over [0,1]ⁿ, f = C&W's κ-margin loss (Eqs. 4, 6), by
    projected FISTA: x_{k+1} = S_β(y_k − α_k ∇g(y_k)) with g = c·f + ‖· − x₀‖₂² and the box-clipped
    shrinkage-thresholding S_β of Eq. 9 (threshold β, not α_k·β, as in the paper and its code);
    y_{k+1} = x_{k+1} + k/(k+3)·(x_{k+1} − x_k). The step size decays with a square root,
    α_k = learning_rate·(1 − k/I)^½ with I = ``steps`` (the official code's form of the paper's
    "square-root decay"). Every x_{k+1} is tested for success (κ-shifted argmax) — one extra forward
    pass per iteration (sharing one forward on [y_{k+1}; x_{k+1}] with the gradient is slower on the
    CPU: the backward then runs on the doubled batch). The binary search on c runs ``search_steps``
    rounds per sample, as in C&W ("Experiment Setup and Parameter Setting": 9 rounds of 1000
    iterations); the rules only choose among the successful iterates of all rounds: "EN" the
    smallest β‖δ‖₁ + ‖δ‖₂², "L1" the smallest ‖δ‖₁. Both come from the same run, so the returned
    dict maps each rule to its adversarial examples.

    Where the official code differs from the paper this follows the paper: momentum k/(k+3) as
    printed in Algorithm 1 (the code's counter gives (k+1)/(k+4)), no early abort (the paper does not
    mention one). Where the paper is silent: a sample with no successful iterate returns its clean
    input (the code returns a mid-grey image). Foolbox 3.3.4's ``EADAttack`` with the same settings
    returns the same examples wherever it succeeds (``benchmarks/bench_ead_foolbox.py``).

    ``callback``: if given, called after every round with a ``SearchRound`` whose ``best_distance``
    and ``best_const`` are keyed by decision rule. It does not change the result.
    """
    check_decision_rules(decision_rules)
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    inputs, labels = validate(model, inputs, labels)
    batch = inputs.shape[0]
    const = torch.full((batch,), initial_const, dtype=inputs.dtype, device=inputs.device)
    lower, upper = torch.zeros_like(const), torch.full_like(const, 1e10)
    best = BestIterates(inputs, decision_rules)

    for outer in range(search_steps):
        x = y = inputs
        round_success = torch.zeros(batch, dtype=torch.bool, device=inputs.device)
        for k in range(steps):
            y = y.detach().requires_grad_(True)
            logits = model(y)
            if outer == 0 and k == 0:
                check_label_range(logits, labels)
            loss_grad = torch.autograd.grad((const * margin_loss(logits, labels, targeted, kappa)).sum(), y)[0]
            grad = loss_grad + 2 * (y.detach() - inputs)             # + ∇‖y − x₀‖₂²
            x_next = shrink(y.detach() - learning_rate * (1 - k / steps) ** 0.5 * grad, inputs, beta)
            y = x_next + k / (k + 3) * (x_next - x)
            x = x_next

            with torch.no_grad():
                adv = is_adversarial(model(x), labels, targeted, kappa)
            round_success |= adv
            best.update(slice(None), rule_distances(x - inputs, beta, decision_rules), x, adv, const)
        report_round(callback, outer, const, round_success, best.distance, best.const)
        const, lower, upper = update_trade_off(const, lower, upper, round_success)
    return best.adv


def shrink(z: Tensor, x0: Tensor, beta: float) -> Tensor:
    """Projected shrinkage-thresholding S_β (EAD Eq. 9): soft-threshold z − x₀ at β, then clip to [0, 1].

    Coursework ``norm-update`` asks for this function.
    """
    shift = z - x0
    return torch.where(shift > beta, (z - beta).clamp(max=1), torch.where(shift < -beta, (z + beta).clamp(min=0), x0))
