"""Helpers shared by every attack: input validation, per-sample norms, projections, quantisation, losses.

Conventions (adv_lib style): a batch is a tensor (N, ...) in [0, 1]; per-sample quantities are
tensors (N,); ``batch_view`` broadcasts them over the feature dimensions; every per-sample decision
is a ``torch.where``, never a Python loop over samples.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

Attack = Callable[..., Tensor]
NORMS = (1, 2, math.inf)


class AttackInputError(ValueError):
    """An attack was called with inputs, labels or a model it cannot attack; the message names the problem."""


def validate(model: nn.Module, inputs: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Check an attack's arguments and return ``(inputs, labels)`` detached, labels as int64.

    Raises ``AttackInputError`` for: inputs that are not a floating-point tensor with a batch and a
    feature dimension, an empty batch, NaN or Inf, values outside [0, 1], labels that are not a 1-D
    integer tensor of the same length, negative labels, and a model (or submodule) in training mode
    (dropout / batch-norm would make the attack random and update the model's statistics: call
    ``model.eval()``). Labels above the number of classes are caught by ``check_label_range`` at the
    attack's first forward pass, before any loss uses them. The caller's tensors are never modified.
    """
    if not isinstance(inputs, Tensor) or not inputs.is_floating_point():
        kind = inputs.dtype if isinstance(inputs, Tensor) else type(inputs).__name__
        raise AttackInputError(f"inputs must be a floating-point tensor, got {kind}")
    if inputs.ndim < 2:
        raise AttackInputError(f"inputs must have shape (batch, features...), got shape {tuple(inputs.shape)}")
    if inputs.shape[0] == 0:
        raise AttackInputError("inputs is an empty batch (0 samples)")
    if not torch.isfinite(inputs).all():
        raise AttackInputError("inputs contain NaN or Inf values")
    low, high = inputs.min().item(), inputs.max().item()
    if low < 0 or high > 1:
        raise AttackInputError(f"inputs must lie in [0, 1], got values in [{low:.6g}, {high:.6g}]")
    if (not isinstance(labels, Tensor) or labels.is_floating_point() or labels.is_complex()
            or labels.dtype == torch.bool):
        kind = labels.dtype if isinstance(labels, Tensor) else type(labels).__name__
        raise AttackInputError(f"labels must be an integer tensor, got {kind}")
    if labels.ndim != 1 or labels.shape[0] != inputs.shape[0]:
        raise AttackInputError(f"labels must have shape ({inputs.shape[0]},) to match the inputs' batch, "
                               f"got shape {tuple(labels.shape)}")
    if labels.min().item() < 0:
        raise AttackInputError(f"labels must be class indices >= 0, got {labels.min().item()}")
    if any(module.training for module in model.modules()):
        raise AttackInputError("model is in training mode; call model.eval() before attacking it")
    return inputs.detach(), labels.detach().long()


def check_label_range(logits: Tensor, labels: Tensor) -> None:
    """At an attack's first forward pass: every label must be a class of the model's output."""
    if labels.max().item() >= logits.shape[1]:
        raise AttackInputError(f"labels must be < the model's number of classes ({logits.shape[1]}), "
                               f"got {labels.max().item()}")


def ce_gradient(model: nn.Module, x: Tensor, labels: Tensor, *, first: bool) -> tuple[Tensor, Tensor]:
    """Logits at x (detached) and the gradient of the summed cross-entropy with respect to x.

    ``first``: this is the attack's first forward pass, so the labels are checked against the logits.
    """
    x = x.detach().requires_grad_(True)
    logits = model(x)
    if first:
        check_label_range(logits, labels)
    return logits.detach(), torch.autograd.grad(F.cross_entropy(logits, labels, reduction="sum"), x)[0]


def check_norm(norm: float, allowed: tuple[float, ...] = NORMS) -> float:
    """``norm`` as a float (``inf`` for the L∞ norm); ValueError unless it is one of ``allowed``."""
    if norm not in allowed:
        raise ValueError(f"norm must be one of {allowed}, got {norm!r}")
    return float(norm)


def dual_norm(p: float) -> float:
    """q with 1/p + 1/q = 1: ∞ for p = 1, 2 for p = 2, 1 for p = ∞."""
    return {1.0: math.inf, 2.0: 2.0, math.inf: 1.0}[float(p)]


def batch_view(values: Tensor, like: Tensor) -> Tensor:
    """Per-sample values (N,) reshaped to (N, 1, ..., 1) to broadcast against ``like`` (N, ...)."""
    return values.view(-1, *[1] * (like.ndim - 1))


def per_sample(value: float | Tensor, inputs: Tensor, name: str) -> Tensor:
    """A non-negative scalar or (N,) hyperparameter (e.g. ε) as an (N,) tensor on the inputs' device."""
    out = torch.as_tensor(value, dtype=inputs.dtype, device=inputs.device).expand(inputs.shape[0])
    if (out < 0).any():
        raise ValueError(f"{name} must be >= 0")
    return out


def lp_norms(delta: Tensor, p: float) -> Tensor:
    """Per-sample Lp norm of a batch of perturbations, p ∈ {0, 1, 2, ∞} (L0 = number of changed values)."""
    flat = delta.flatten(1)
    if p == 0:
        return (flat != 0).sum(1).to(delta.dtype)
    return flat.norm(p=p, dim=1)


def quantize(x: Tensor, levels: int | None) -> Tensor:
    """Round [0,1] values to ``levels`` evenly spaced levels (256: the 8-bit grid k/255); None: identity.

    DDN Algorithm 1 step 12 (chapter ddn): with 256 levels every 8-bit image is left unchanged.
    """
    if levels is None:
        return x
    return torch.round(x * (levels - 1)) / (levels - 1)


def cosine_schedule(steps: int, start: float, end: float) -> list[float]:
    """Cosine annealing from ``start`` at the first step to ``end`` at the last one (DDN, Algorithm 1)."""
    if steps == 1:
        return [start]
    return [end + (start - end) * (1 + math.cos(math.pi * k / (steps - 1))) / 2 for k in range(steps)]


def steepest_unit(grad: Tensor, p: float) -> Tensor:
    """The unit-Lp-norm direction d maximising <grad, d> (the dual-norm maximiser), per sample.

    p = ∞: sign(g); p = 2: g / ‖g‖₂; p = 1: sign(g_i*)·e_i* at i* = argmax |g_i| (first index on ties).
    A zero gradient gives a zero direction.
    """
    if p == math.inf:
        return grad.sign()
    if p == 2:
        return grad / batch_view(lp_norms(grad, 2).clamp_min(1e-30), grad)
    flat = grad.flatten(1)
    index = flat.abs().argmax(1, keepdim=True)
    return torch.zeros_like(flat).scatter(1, index, flat.gather(1, index).sign()).view_as(grad)


def linearized_boundary_step(value: Tensor, grad: Tensor, p: float) -> Tensor:
    """Closed-form minimiser of min_η ‖η‖_p s.t. L(x) + ηᵀ∇L ≤ 0 (convex paper, Eq. 8), for L(x) = ``value`` (N,).

    The smallest budget that makes (GNII) reach 0 is L/‖∇L‖_q (Proposition 1), attained in the
    steepest-descent direction of (GNII): η = −(L/‖∇L‖_q)·``steepest_unit``(∇L, p), and η = 0 where
    L ≤ 0; η has ``grad``'s dtype. With L = f_k − f_l it is one DeepFool step (convex paper Section III;
    chapter convex).
    """
    p = check_norm(p)
    budget = (value.clamp_min(0) / lp_norms(grad, dual_norm(p)).clamp_min(1e-30)).to(grad.dtype)
    return -batch_view(budget, grad) * steepest_unit(grad, p)


def project_lp_ball(delta: Tensor, eps: Tensor, p: float) -> Tensor:
    """Euclidean projection of each sample's perturbation onto its Lp ball of radius eps (N,)."""
    if p == math.inf:
        radius = batch_view(eps, delta)
        return torch.maximum(torch.minimum(delta, radius), -radius)
    norms = lp_norms(delta, p)
    if p == 2:
        return delta * batch_view(torch.where(norms > eps, eps / norms.clamp_min(1e-30), 1), delta)
    # p = 1: soft thresholding at the level θ that gives ‖δ‖₁ = ε (Duchi et al., 2008, Fig. 1)
    flat = delta.flatten(1)
    sorted_abs = flat.abs().sort(dim=1, descending=True).values
    excess = sorted_abs.cumsum(1) - eps[:, None]
    ranks = torch.arange(1, flat.shape[1] + 1, device=delta.device, dtype=delta.dtype)
    count = (sorted_abs * ranks > excess).sum(1, keepdim=True).clamp_min(1)
    theta = (excess.gather(1, count - 1) / count.to(delta.dtype)).clamp_min(0)
    shrunk = flat.sign() * (flat.abs() - theta).clamp_min(0)
    return torch.where(batch_view(norms > eps, flat), shrunk, flat).view_as(delta)


def logit_margin(logits: Tensor, labels: Tensor) -> Tensor:
    """Z_y − max_{j≠y} Z_j per sample: positive while the model predicts ``labels``."""
    label_logit = logits.gather(1, labels[:, None]).squeeze(1)
    return label_logit - logits.scatter(1, labels[:, None], -math.inf).amax(1)


def is_adversarial(logits: Tensor, labels: Tensor, targeted: bool, kappa: float = 0.0) -> Tensor:
    """Untargeted: argmax(Z + κ·e_y) ≠ y; targeted: argmax(Z − κ·e_t) = t (C&W's confidence test)."""
    if kappa:
        shift = torch.zeros_like(logits).scatter(1, labels[:, None], kappa)
        logits = logits - shift if targeted else logits + shift
    predicted = logits.argmax(1)
    return predicted == labels if targeted else predicted != labels


def margin_loss(logits: Tensor, labels: Tensor, targeted: bool, kappa: float) -> Tensor:
    """C&W's f (Eq. 4 / Eq. 6 of EAD) shifted by κ: max(±(Z_y − max_{j≠y} Z_j) + κ, 0) per sample."""
    margin = logit_margin(logits, labels)
    return ((-margin if targeted else margin) + kappa).clamp_min(0)


def keep_best(best_dist: Tensor, best_adv: Tensor, dist: Tensor, adv: Tensor,
              success: Tensor) -> tuple[Tensor, Tensor]:
    """Per sample, ``adv`` becomes the best adversarial example where it succeeds at a strictly smaller distance."""
    better = success & (dist < best_dist)
    return torch.where(better, dist, best_dist), torch.where(batch_view(better, adv), adv, best_adv)


DECISION_RULES = ("EN", "L1")


def check_decision_rules(rules: tuple[str, ...]) -> None:
    """ValueError unless ``rules`` is a non-empty collection of EAD's decision rules ("EN", "L1")."""
    if isinstance(rules, str) or not rules or not set(rules) <= set(DECISION_RULES):
        raise ValueError(f"decision rules must be a non-empty tuple of {DECISION_RULES}, got {rules!r}")


def rule_distances(delta: Tensor, beta: float, rules: tuple[str, ...]) -> dict[str, Tensor]:
    """Per decision rule, the distance it minimises among successful iterates (EAD, "Decision rule"),
    per sample of the perturbations ``delta``: "EN" β‖δ‖₁ + ‖δ‖₂², "L1" ‖δ‖₁."""
    flat = delta.flatten(1)
    l1 = flat.abs().sum(1) if beta or "L1" in rules else 0  # C&W (β = 0, EN rule) needs no L1
    return {rule: l1 if rule == "L1" else beta * l1 + flat.square().sum(1) for rule in rules}


class BestIterates:
    """Per decision rule, the best successful iterate of a search so far (C&W / EAD: "the best over all
    iterates of all binary-search steps"): ``distance`` (inf if none), ``adv`` (the clean input if none)
    and ``const``, the c of the round that found it (NaN if none); each a dict rule → per-sample tensor."""

    def __init__(self, inputs: Tensor, rules: tuple[str, ...]):
        blank = torch.full((inputs.shape[0],), math.inf, dtype=inputs.dtype, device=inputs.device)
        self.distance = {rule: blank.clone() for rule in rules}
        self.adv = {rule: inputs.clone() for rule in rules}
        self.const = {rule: torch.full_like(blank, math.nan) for rule in rules}

    def update(self, index: Tensor | slice, distances: dict[str, Tensor], x: Tensor, success: Tensor,
               const: Tensor) -> None:
        """``keep_best`` per rule for the samples ``index`` (their iterates ``x``, found with constant ``const``)."""
        for rule, distance in distances.items():
            previous = self.distance[rule][index]
            new, self.adv[rule][index] = keep_best(previous, self.adv[rule][index], distance, x, success)
            self.const[rule][index] = torch.where(new < previous, const, self.const[rule][index])
            self.distance[rule][index] = new


class SearchRound(NamedTuple):
    """The per-sample state of ``carlini_wagner_l2`` / ``ead_rules`` after one round of the binary search
    on c, passed to their ``callback``; every tensor is a detached copy of shape (N,), safe to keep.

    - ``search_step``: the round, 0 … search_steps − 1.
    - ``const``: the constant c this round used.
    - ``success``: whether any iterate of this round was adversarial (bool).
    - ``best_distance``: per criterion, the distance of the best adversarial example so far (``inf``
      if none): ``{"L2": ‖δ‖₂}`` for C&W; ``{"EN": β‖δ‖₁ + ‖δ‖₂², "L1": ‖δ‖₁}`` for EAD's decision rules.
    - ``best_const``: per criterion, the c of the round that found that example (NaN if none). After
      the last round it is "the best C found by the C&W algorithm" of the DDN paper's Fig. 2.
    """

    search_step: int
    const: Tensor
    success: Tensor
    best_distance: dict[str, Tensor]
    best_const: dict[str, Tensor]


SearchCallback = Callable[[SearchRound], None]


def report_round(callback: SearchCallback | None, search_step: int, const: Tensor, success: Tensor,
                 best_distance: dict[str, Tensor], best_const: dict[str, Tensor]) -> None:
    """Call ``callback`` (if any) with a ``SearchRound`` of copies of the given per-sample tensors."""
    if callback is not None:
        copy = lambda tensors: {key: value.detach().clone() for key, value in tensors.items()}  # noqa: E731
        callback(SearchRound(search_step, const.detach().clone(), success.detach().clone(), copy(best_distance),
                             copy(best_const)))


def update_trade_off(const: Tensor, lower: Tensor, upper: Tensor,
                     success: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One per-sample binary-search step on the C&W / EAD constant c.

    Success lowers the upper bound, failure raises the lower bound; c is bisected once an upper
    bound exists (< 1e9) and multiplied by 10 before (Carlini & Wagner 2017's code, which EAD's
    "Experiment Setup and Parameter Setting" adopts).
    """
    upper = torch.where(success, torch.minimum(upper, const), upper)
    lower = torch.where(success, lower, torch.maximum(lower, const))
    const = torch.where(upper < 1e9, (lower + upper) / 2, const * 10)
    return const, lower, upper


def class_gradients(logits: Tensor, x: Tensor, classes: Tensor) -> Tensor:
    """Gradients (N, C, ...) of the logits ``classes`` (N, C) with respect to x: one backward pass per column.

    On the CPU this loop beats one batched backward (``is_grads_batched``) and ``torch.func``'s
    vmap(jacrev) on the zoo's conv nets (``benchmarks/bench_class_gradients.py``; chapter convex).
    """
    grads = [torch.autograd.grad(logits.gather(1, classes[:, j:j + 1]).sum(), x, retain_graph=True)[0]
             for j in range(classes.shape[1])]
    return torch.stack(grads, 1)
