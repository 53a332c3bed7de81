"""The convex chapter's theory, computed: Proposition 2 and Eq. 8 against a generic convex solver, Theorem 1's
layer-by-layer Jacobian, the regression attacks of Section IV (Eq. 9) and Proposition 1 on linear classifiers
(chapter convex).

The solver references (cvxpy) loop over the rows of a small batch: they check the closed forms of
``advlab.attacks`` on a few dozen random problems and are not attacks. Everything else is batched.
Norms p ∈ {1, 2, ∞} (``math.inf``); q is the dual exponent, 1/p + 1/q = 1.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import torch
from torch import Tensor, nn

from advlab.attacks._common import check_norm, per_sample
from advlab.zoo.architectures import Normalize

# CLARABEL (interior point) at tight tolerances (defaults 1e-8); a feasibility tolerance of 1e-9 makes it
# stall on some ℓ2 problems. "Almost solved" (cvxpy's optimal_inaccurate) is accepted only within the reduced
# tolerances below, which replace CLARABEL's defaults of 5e-5 and 1e-4.
CLARABEL_OPTIONS = dict(tol_gap_abs=1e-9, tol_gap_rel=1e-9, tol_feas=1e-8,
                        reduced_tol_gap_abs=1e-8, reduced_tol_gap_rel=1e-8, reduced_tol_feas=1e-8)
SCS_OPTIONS = dict(eps_abs=1e-9, eps_rel=1e-9, max_iters=100_000)
SOLVED = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid)


def _tensor(value: Tensor, name: str, shape: str, ndim: int | None = None) -> Tensor:
    """``value`` checked to be a finite, non-empty floating-point tensor of ``shape``: ``ndim`` dimensions
    (None: a batch and at least one feature dimension)."""
    if not isinstance(value, Tensor) or not value.is_floating_point():
        kind = value.dtype if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(f"{name} must be a floating-point tensor, got {kind}")
    if (value.ndim < 2 if ndim is None else value.ndim != ndim) or value.numel() == 0:
        raise ValueError(f"{name} must have shape {shape}, got shape {tuple(value.shape)}")
    if not torch.isfinite(value).all():
        raise ValueError(f"{name} contains NaN or Inf values")
    return value.detach()


def _linearisation(grad: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
    """A batch of linearisations L(x) + ηᵀ∇L: ``grad`` (N, n) and ``value`` (N,), both as float64."""
    grad = _tensor(grad, "grad", "(N, n)", 2).double()
    value = _tensor(value, "value", f"({grad.shape[0]},)", 1).double()
    if value.shape[0] != grad.shape[0]:
        raise ValueError(f"value must have shape ({grad.shape[0]},) to match grad, got shape {tuple(value.shape)}")
    return grad, value


def _solve(problem: cp.Problem, solver: str, options: dict) -> None:
    """Solve ``problem`` in place from scratch; RuntimeError unless the solver reports an optimum.

    No warm start: each row's answer is independent of the rows before it (CLARABEL's in-place data update
    also made it stall on some ℓ2 problems that it solves from scratch).
    """
    with warnings.catch_warnings():   # optimal_inaccurate is checked against the reduced tolerances instead
        warnings.filterwarnings("ignore", "Solution may be inaccurate", UserWarning)
        problem.solve(solver=solver, warm_start=False, **options)
    if problem.status not in SOLVED:
        raise RuntimeError(f"{solver} did not solve the problem: status {problem.status}")


def _cvxpy_norm(p: float) -> float | str:
    """cvxpy's name for the Lp norm."""
    return "inf" if p == math.inf else p


def gnii_by_solver(grad: Tensor, value: Tensor, eps: float | Tensor, p: float) -> tuple[Tensor, Tensor]:
    """(GNII), min_η L(x) + ηᵀ∇L s.t. ‖η‖_p ≤ ε, solved by CLARABEL per row: Proposition 2's reference.

    ``grad`` (N, n), ``value`` = L(x) (N,), ``eps`` a scalar or (N,). Returns the optimal values (N,) and the
    solver's η (N, n), float64. Proposition 2's optimum is L(x) − ε‖∇L‖_q (``gnii_perturbation``).
    """
    grad, value = _linearisation(grad, value)
    p, eps = check_norm(p), per_sample(eps, grad, "eps")
    g, v, e = cp.Parameter(grad.shape[1]), cp.Parameter(), cp.Parameter(nonneg=True)
    eta = cp.Variable(grad.shape[1])
    problem = cp.Problem(cp.Minimize(v + g @ eta), [cp.norm(eta, _cvxpy_norm(p)) <= e])
    values, etas = [], []
    for row_grad, row_value, row_eps in zip(grad.numpy(), value.tolist(), eps.tolist()):
        g.value, v.value, e.value = row_grad, row_value, row_eps
        _solve(problem, cp.CLARABEL, CLARABEL_OPTIONS)
        values.append(problem.value)
        etas.append(eta.value)
    return torch.tensor(values, dtype=torch.float64), torch.tensor(np.stack(etas), dtype=torch.float64)


def min_perturbation_by_solver(grad: Tensor, value: Tensor, p: float) -> tuple[Tensor, Tensor]:
    """Eq. 8, min_η ‖η‖_p s.t. L(x) + ηᵀ∇L ≤ 0, solved by CLARABEL per row: Proposition 1's reference.

    Returns the minimal norms (N,) and the solver's η (N, n), float64. Proposition 1's bound is tight for the
    linearisation: the minimum is max(L, 0)/‖∇L‖_q (``linearized_boundary_step``).
    """
    grad, value = _linearisation(grad, value)
    p = check_norm(p)
    g, v = cp.Parameter(grad.shape[1]), cp.Parameter()
    eta = cp.Variable(grad.shape[1])
    problem = cp.Problem(cp.Minimize(cp.norm(eta, _cvxpy_norm(p))), [v + g @ eta <= 0])
    norms, etas = [], []
    for row_grad, row_value in zip(grad.numpy(), value.tolist()):
        g.value, v.value = row_grad, row_value
        _solve(problem, cp.CLARABEL, CLARABEL_OPTIONS)
        norms.append(problem.value)
        etas.append(eta.value)
    return torch.tensor(norms, dtype=torch.float64), torch.tensor(np.stack(etas), dtype=torch.float64)


def _leaf_layers(model: nn.Module) -> list[nn.Module]:
    """The layers of a (nested) ``nn.Sequential`` in order; any other module is one layer."""
    if not isinstance(model, nn.Sequential):
        return [model]
    return [layer for child in model for layer in _leaf_layers(child)]


def _activation_derivative(layer: nn.Module, pre: Tensor) -> Tensor:
    """φ′(pre) of a point-wise activation, PyTorch's convention at 0: ReLU′(0) = 0, LeakyReLU′(0) = slope."""
    if isinstance(layer, nn.ReLU):
        return (pre > 0).to(pre.dtype)
    if isinstance(layer, nn.LeakyReLU):
        return torch.where(pre > 0, torch.ones_like(pre), layer.negative_slope)
    if isinstance(layer, nn.Tanh):
        return 1 - torch.tanh(pre) ** 2
    sigmoid = torch.sigmoid(pre)
    return sigmoid * (1 - sigmoid)


@torch.no_grad()
def layer_jacobian(model: nn.Module, x: Tensor) -> Tensor:
    """Theorem 1: the Jacobian Z = D⁽ᴸ⁾W⁽ᴸ⁾⋯D⁽¹⁾W⁽¹⁾ of a fully connected network, layer by layer: (N, outputs, inputs).

    One batched forward pass multiplies Z by W⁽ˡ⁾ at each ``nn.Linear`` and by D⁽ˡ⁾ = Diag φ′(W⁽ˡ⁾x⁽ˡ⁻¹⁾ + b⁽ˡ⁾)
    at each point-wise activation (ReLU, LeakyReLU, Tanh, Sigmoid; ReLU′(0) = 0 as in PyTorch); ``Normalize``
    contributes its diagonal 1/std and ``nn.Flatten`` nothing. ``model`` is an ``nn.Sequential`` (nested ones
    allowed) of these layers only: anything else (a convolution, pooling) raises ValueError naming it.
    Inputs are flattened in C order; the model's dtype must match ``x``'s.
    """
    h = _tensor(x, "x", "(N, features...)")
    layers = _leaf_layers(model)
    for layer in layers:
        if not isinstance(layer, (Normalize, nn.Flatten, nn.Linear, *ACTIVATIONS)):
            raise ValueError(f"layer_jacobian (Theorem 1) supports Normalize, Flatten, Linear, ReLU, LeakyReLU, "
                             f"Tanh and Sigmoid layers only, got {type(layer).__name__}")
    z = torch.eye(h[0].numel(), dtype=h.dtype, device=h.device)   # ∂h/∂x, shared by the batch until a D⁽ˡ⁾
    for layer in layers:
        if isinstance(layer, Normalize):
            if h.ndim != 4:
                raise ValueError(f"Normalize expects (N, C, H, W) inputs, got shape {tuple(h.shape)}")
            z = (1 / layer.std.to(h.dtype)).expand_as(h[:1]).flatten()[:, None] * z
        elif isinstance(layer, nn.Linear):
            if h.ndim != 2:
                raise ValueError(f"nn.Linear must receive flattened (N, features) inputs, got shape "
                                 f"{tuple(h.shape)}; add an nn.Flatten before it")
            z = layer.weight @ z
        elif isinstance(layer, ACTIVATIONS):
            z = _activation_derivative(layer, h).flatten(1)[:, :, None] * z
        h = layer(h)
    return z.expand(h.shape[0], *z.shape[-2:]) if z.ndim == 2 else z


def _jacobian(jacobian: Tensor) -> Tensor:
    """A batch of Jacobians J (N, m, n), checked."""
    return _tensor(jacobian, "jacobian", "(N, m, n)", 3)


def _best_candidate(jacobian: Tensor, candidates: Tensor) -> tuple[Tensor, Tensor]:
    """Per sample, the candidate η (N, K, n) of largest ‖Jη‖₂: returns (η (N, n), ‖Jη‖₂ (N,))."""
    values = torch.linalg.vector_norm(candidates @ jacobian.transpose(1, 2), dim=2)
    best = values.argmax(1)
    rows = torch.arange(jacobian.shape[0], device=jacobian.device)
    return candidates[rows, best], values[rows, best]


def regression_perturbation(jacobian: Tensor, eps: float | Tensor, p: float) -> Tensor:
    """Eq. 9, max_η ‖Jη‖₂ s.t. ‖η‖_p ≤ ε, in closed form (Section IV): η (N, n) for J (N, m, n).

    p = 2: ε·v_max, the top right-singular vector of J (value ε‖J‖₂); p = 1: ε·e_k*, k* the column of J of
    largest ℓ2 norm (value ε·max_k ‖J_k‖₂). p = ∞ is NP-hard: ValueError (see ``regression_linf_bruteforce``
    and ``regression_linf_sdp``).
    """
    jacobian, p = _jacobian(jacobian), check_norm(p)
    if p == math.inf:
        raise ValueError("Eq. 9 with p = inf (the ∞→2 norm) has no closed form (NP-hard, Section IV): use "
                         "regression_linf_bruteforce (exact, n <= 20) or regression_linf_sdp (SDP bounds)")
    eps = per_sample(eps, jacobian, "eps")[:, None]
    if p == 2:
        return eps * torch.linalg.svd(jacobian, full_matrices=False).Vh[:, 0]
    column = torch.linalg.vector_norm(jacobian, dim=1).argmax(1, keepdim=True)
    return torch.zeros_like(jacobian[:, 0]).scatter(1, column, 1) * eps


def regression_linf_bruteforce(jacobian: Tensor, eps: float | Tensor, *,
                               chunk: int = 1 << 14) -> tuple[Tensor, Tensor]:
    """Eq. 9 with p = ∞, exactly: the best of the 2ⁿ vertices ε·s, s ∈ {±1}ⁿ, of the ℓ∞ ball (Section IV).

    A convex function attains its maximum over a polytope at a vertex; η and −η give the same value, so
    2ⁿ⁻¹ sign vectors are enumerated, ``chunk`` at a time. Returns (η (N, n), ‖Jη‖₂ (N,)); n ≤ 20.
    """
    jacobian = _jacobian(jacobian)
    n = jacobian.shape[2]
    if n > 20:
        raise ValueError(f"regression_linf_bruteforce enumerates 2^n sign vectors and accepts n <= 20 inputs, got "
                         f"n = {n}; use regression_linf_sdp")
    eps = per_sample(eps, jacobian, "eps")[:, None, None]
    bits = torch.arange(n - 1, device=jacobian.device)
    best_eta, best_value = torch.zeros_like(jacobian[:, 0]), torch.full_like(jacobian[:, 0, 0], -1)
    for start in range(0, 2 ** (n - 1), chunk):
        codes = torch.arange(start, min(start + chunk, 2 ** (n - 1)), device=jacobian.device)
        signs = torch.cat([torch.ones_like(codes[:, None]), 1 - 2 * ((codes[:, None] >> bits) & 1)], 1)
        eta, value = _best_candidate(jacobian, eps * signs.to(jacobian.dtype))
        better = value > best_value
        best_eta = torch.where(better[:, None], eta, best_eta)
        best_value = torch.where(better, value, best_value)
    return best_eta, best_value


@dataclass(frozen=True)
class SdpBounds:
    """Bounds on Eq. 9's optimum max ‖Jη‖₂ s.t. ‖η‖∞ ≤ ε from its SDP relaxation (``regression_linf_sdp``)."""

    upper: Tensor       # (N,) ε·sqrt(Σy + n·λ_max(JᵀJ − Diag y)), y = SCS's dual: a certified upper bound
    relaxation: Tensor  # (N,) ε·sqrt(tr(JᵀJ X)), X = SCS's primal solution (``upper`` up to solver accuracy)
    rounded: Tensor     # (N,) ‖Jη‖₂ at the rounded η: a lower bound
    eta: Tensor         # (N, n) the best rounded perturbation ε·sign(V r)


def regression_linf_sdp(jacobian: Tensor, eps: float | Tensor, *, roundings: int = 100,
                        seed: int = 0) -> SdpBounds:
    """Eq. 9 with p = ∞ bounded by the SDP relaxation max tr(JᵀJ X) s.t. X ⪰ 0, diag X = 1 (Section IV; SCS per row).

    The paper's SDP formula is lost in its text (it cites Hartman & Hladík 2015); this is the standard
    MAXCUT-type relaxation of max_{s∈{±1}ⁿ} sᵀJᵀJs = ‖J‖²_{∞→2}. Upper bound: for any y,
    sᵀJᵀJs ≤ n·λ_max(JᵀJ − Diag y) + Σy, evaluated at the solver's dual y, so it holds whatever the solver's
    accuracy. Lower bound: Goemans–Williamson rounding s = sign(V r), X = VVᵀ, r ~ N(0, I) from a generator
    seeded with ``seed``, the best of ``roundings`` draws (in expectation, sᵀJᵀJs ≥ 2/π of the relaxation's value,
    Nesterov 1998).
    """
    jacobian = _jacobian(jacobian).double()
    n = jacobian.shape[2]
    eps = per_sample(eps, jacobian, "eps")
    gram = jacobian.transpose(1, 2) @ jacobian
    gram = (gram + gram.transpose(1, 2)) / 2
    g = cp.Parameter((n, n), symmetric=True)
    x = cp.Variable((n, n), PSD=True)
    diagonal = cp.diag(x) == 1
    problem = cp.Problem(cp.Maximize(cp.trace(g @ x)), [diagonal])
    relaxation, duals, solutions = [], [], []
    for row in gram.numpy():
        g.value = row
        _solve(problem, cp.SCS, SCS_OPTIONS)
        relaxation.append(problem.value)
        duals.append(diagonal.dual_value)
        solutions.append(x.value)
    y = torch.tensor(np.stack(duals), dtype=torch.float64)
    certified = y.sum(1) + n * torch.linalg.eigvalsh(gram - torch.diag_embed(y))[:, -1]
    eigenvalues, vectors = torch.linalg.eigh(torch.tensor(np.stack(solutions), dtype=torch.float64))
    factor = vectors * eigenvalues.clamp_min(0).sqrt()[:, None, :]
    draws = torch.randn(jacobian.shape[0], n, roundings, generator=torch.Generator().manual_seed(seed),
                        dtype=torch.float64)
    signs = torch.where(factor @ draws >= 0, 1.0, -1.0).transpose(1, 2).to(torch.float64)
    eta, rounded = _best_candidate(jacobian, eps[:, None, None] * signs)
    relaxation = torch.tensor(relaxation, dtype=torch.float64).clamp_min(0)
    return SdpBounds(upper=eps * certified.clamp_min(0).sqrt(), relaxation=eps * relaxation.sqrt(),
                     rounded=rounded, eta=eta)


def regression_by_enumeration(jacobian: Tensor, eps: float | Tensor, p: float, *, directions: int = 10_000,
                              seed: int = 0) -> tuple[Tensor, Tensor]:
    """Brute-force references for Eq. 9 (Section IV): returns the best (η (N, n), ‖Jη‖₂ (N,)) found.

    p = 1: exact, the best of the 2n vertices ±ε·e_i of the ℓ1 ball (a convex function is maximised at a
    vertex of a polytope). p = 2: a lower bound only, the best of ``directions`` random unit directions
    (seeded with ``seed``) times ε. p = ∞: ``regression_linf_bruteforce`` (the vertices ε·{±1}ⁿ).
    """
    jacobian, p = _jacobian(jacobian), check_norm(p)
    if p == math.inf:
        return regression_linf_bruteforce(jacobian, eps)
    eps = per_sample(eps, jacobian, "eps")[:, None, None]
    n = jacobian.shape[2]
    if p == 1:
        identity = torch.eye(n, dtype=jacobian.dtype, device=jacobian.device)
        return _best_candidate(jacobian, eps * torch.cat([identity, -identity]))
    random = torch.randn(jacobian.shape[0], directions, n, generator=torch.Generator().manual_seed(seed),
                         dtype=torch.float64).to(jacobian)
    return _best_candidate(jacobian, eps * random / torch.linalg.vector_norm(random, dim=2, keepdim=True))


def _linear_margins(weight: Tensor, bias: Tensor, x: Tensor, label: Tensor) -> tuple[Tensor, Tensor]:
    """Logits f = Wx + b, ``label`` k the prediction: the margins f_k − f_l and ‖w_k − w_l‖₁, each (N, K)."""
    weight = _tensor(weight, "weight", "(K, n)", 2)
    bias = _tensor(bias, "bias", f"({weight.shape[0]},)", 1)
    if weight.shape[0] < 2 or bias.shape[0] != weight.shape[0]:
        raise ValueError(f"weight (K, n) and bias (K,) need the same K >= 2 classes, got shapes "
                         f"{tuple(weight.shape)} and {tuple(bias.shape)}")
    x = _tensor(x, "x", "(N, features...)").flatten(1)
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features per sample but weight has {weight.shape[1]} columns")
    if (not isinstance(label, Tensor) or label.is_floating_point() or label.ndim != 1
            or label.shape[0] != x.shape[0]):
        raise ValueError(f"label must be an integer tensor of shape ({x.shape[0]},)")
    if label.min() < 0 or label.max() >= weight.shape[0]:
        raise ValueError(f"label must be class indices in [0, {weight.shape[0]})")
    logits = x.to(weight.dtype) @ weight.T + bias
    margins = logits.gather(1, label[:, None]) - logits
    if (margins < 0).any():
        raise ValueError("label must be the classifier's prediction argmax(Wx + b) for every sample")
    return margins, (weight[label][:, None, :] - weight).abs().sum(2)


def linear_minimal_linf(weight: Tensor, bias: Tensor, x: Tensor, label: Tensor) -> Tensor:
    """The exact minimal ‖η‖∞ (no box) that changes the argmax of f = Wx + b from ``label`` k: (N,).

    min_{l≠k} (f_k − f_l)/‖w_k − w_l‖₁: the class-l region is a half-space, at ℓ∞ distance margin/dual norm
    (Proposition 1 with L = f_k − f_l, tight for a linear L; cf. the code's ρ̂₂, chapter convex).
    """
    margins, gradient_norms = _linear_margins(weight, bias, x, label)
    ratios = margins / gradient_norms
    return ratios.scatter(1, label[:, None], math.inf).amin(1)


def runner_up_bound(weight: Tensor, bias: Tensor, x: Tensor, label: Tensor) -> Tensor:
    """Proposition 1's value L/‖∇L‖₁ for L = f_k − f_l̂, l̂ the runner-up at x (the text's ∇ₓL(x)): (N,).

    Not a lower bound on the minimal perturbation: L = min_l (f_k − f_l) of Eq. 3 is only piecewise linear,
    and a class other than the runner-up can be closer in ℓ∞, so this value can EXCEED ``linear_minimal_linf``
    (it is never below it).
    """
    margins, gradient_norms = _linear_margins(weight, bias, x, label)
    runner_up = margins.scatter(1, label[:, None], math.inf).argmin(1, keepdim=True)
    return (margins.gather(1, runner_up) / gradient_norms.gather(1, runner_up)).squeeze(1)
