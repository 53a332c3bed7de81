# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# init_cell: true
# check_all_cell: false
# export_cell: false
# run_tests: true
# generate:
#   pdf: false
#   filtering: false
# tests:
#   ok_format: false

# %% [markdown]
# # Assignment: the convex framework's closed forms, checked against a solver
#
# Chapter **convex** of the book (Balda, Behboodi and Mathar). Linearise a loss around an image,
# L(x + η) ≈ L(x) + ηᵀ∇L, and two convex programs have closed-form answers through Hölder's inequality
# with the dual norm q = p/(p − 1):
#
# - **(GNII)**, Proposition 2: minimise ηᵀ∇L subject to ‖η‖_p ≤ ε. The minimum is −ε‖∇L‖_q.
# - **Eq. 8**, Proposition 1: the smallest ‖η‖_p with L(x) + ηᵀ∇L ≤ 0. It is max(L, 0)/‖∇L‖_q.
#
# Derive each minimiser, write it for p ∈ {1, 2, ∞}, and the grader compares your answers with a
# generic convex solver (CVXPY with CLARABEL, `advlab.convex_theory`) on seeded problems. q3 applies
# Proposition 1 to a linear classifier, where it is exact.
#
# Everything is batched: `grad` has shape (N, n), `value` and `eps` are per row. Work in float64.
#
# Points: q1 4, q2 4, q3 3 (public checks 1 point each).

# %%
import math

import torch

# %% [raw]
# # BEGIN QUESTION
# name: q1

# %% [markdown]
# ## q1. The minimiser of (GNII)
#
# Return η (N, n) that minimises ηᵀ∇L per row subject to ‖η‖_p ≤ ε, for `p` in {1, 2, `math.inf`}.
# (For p = 1 several coordinates may tie; any minimiser is accepted: the grader compares the objective.)

# %% [raw]
# # BEGIN SOLUTION

# %%
def gnii_step(grad, eps, p):
    """Proposition 2: argmin of ηᵀ∇L subject to ‖η‖_p ≤ ε, per row of grad (N, n)."""
    # BEGIN SOLUTION
    eps = torch.as_tensor(eps, dtype=grad.dtype).expand(grad.shape[0])[:, None]
    if p == math.inf:
        return -eps * grad.sign()
    if p == 2:
        return -eps * grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-300)
    index = grad.abs().argmax(1, keepdim=True)
    return -eps * torch.zeros_like(grad).scatter(1, index, grad.gather(1, index).sign())
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q1_public(gnii_step):
    import torch
    eta = gnii_step(torch.tensor([[3.0, -4.0]], dtype=torch.float64), 1.0, 2)
    assert isinstance(eta, torch.Tensor) and eta.shape == (1, 2), "return η with grad's shape (N, n)"
    torch.testing.assert_close(eta, torch.tensor([[-0.6, 0.8]], dtype=torch.float64))

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_linf(gnii_step):
    from advlab.coursework import check_gnii_step
    check_gnii_step(gnii_step, float("inf"))

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_l2(gnii_step):
    from advlab.coursework import check_gnii_step
    check_gnii_step(gnii_step, 2)

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_l1(gnii_step):
    from advlab.coursework import check_gnii_step
    check_gnii_step(gnii_step, 1)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2

# %% [markdown]
# ## q2. The smallest step to the linearised boundary (Eq. 8)
#
# Return η (N, n) of smallest ‖η‖_p such that `value` + ηᵀ`grad` ≤ 0 per row (η = 0 where `value` ≤ 0
# already), for `p` in {1, 2, `math.inf`}. With L = f_k − f_l this is one DeepFool step.

# %% [raw]
# # BEGIN SOLUTION

# %%
def minimal_step(grad, value, p):
    """Proposition 1 / Eq. 8: the smallest ‖η‖_p with value + ηᵀ∇L ≤ 0, per row."""
    # BEGIN SOLUTION
    q = 1.0 if p == math.inf else math.inf if p == 1 else p / (p - 1)
    budget = value.clamp_min(0) / grad.norm(p=q, dim=1).clamp_min(1e-300)
    return gnii_step(grad, budget, p)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q2_public(minimal_step):
    import torch
    eta = minimal_step(torch.tensor([[3.0, -4.0]], dtype=torch.float64), torch.tensor([10.0], dtype=torch.float64), 2)
    assert isinstance(eta, torch.Tensor) and eta.shape == (1, 2), "return η with grad's shape (N, n)"
    torch.testing.assert_close(eta, torch.tensor([[-1.2, 1.6]], dtype=torch.float64))

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q2_linf(minimal_step):
    from advlab.coursework import check_minimal_step
    check_minimal_step(minimal_step, float("inf"))

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q2_l1(minimal_step):
    from advlab.coursework import check_minimal_step
    check_minimal_step(minimal_step, 1)

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q2_already_there(minimal_step):
    import torch
    from advlab.coursework import CONVEX_REFERENCES, own_function
    student = own_function(minimal_step, "minimal_step", CONVEX_REFERENCES)
    grad = torch.randn(6, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(31))
    value = torch.tensor([-1.0, 0.0, -0.5, 2.0, -3.0, 0.0], dtype=torch.float64)
    eta = student(grad, value, 2)
    zero = value <= 0
    assert eta[zero].abs().max() == 0, "where value ≤ 0 the linearisation already satisfies the constraint: η = 0"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q3

# %% [markdown]
# ## q3. The exact L∞ distance to a linear classifier's boundary
#
# For logits f = Wx + b with predicted class k, the region where class l beats k is a half-space, so
# Proposition 1 is exact for it. Return, per image, the smallest ‖η‖∞ (no box constraint) that changes
# the prediction. `weight` is (K, n), `bias` (K,), `x` (N, n). Careful: the runner-up class (the
# second-largest logit) is not always the closest one.

# %% [raw]
# # BEGIN SOLUTION

# %%
def minimal_linf_distance(weight, bias, x):
    """min over l ≠ k of (f_k − f_l)/‖w_k − w_l‖₁, k the prediction, per row of x (N, n)."""
    # BEGIN SOLUTION
    logits = x @ weight.T + bias
    k = logits.argmax(1)
    margins = logits.gather(1, k[:, None]) - logits
    dual = (weight[k][:, None, :] - weight).abs().sum(2)
    return (margins / dual).scatter(1, k[:, None], math.inf).amin(1)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q3_public(minimal_linf_distance):
    import torch
    weight = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    distance = minimal_linf_distance(weight, torch.zeros(2, dtype=torch.float64), torch.tensor([[0.9, 0.1]], dtype=torch.float64))
    assert isinstance(distance, torch.Tensor) and distance.shape == (1,), "return one distance per image, shape (N,)"
    torch.testing.assert_close(distance, torch.tensor([0.4], dtype=torch.float64))

# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_q3_exact(minimal_linf_distance):
    import torch
    from advlab.convex_theory import linear_minimal_linf
    from advlab.coursework import CONVEX_REFERENCES, own_function
    student = own_function(minimal_linf_distance, "minimal_linf_distance", CONVEX_REFERENCES)
    generator = torch.Generator().manual_seed(32)
    weight = torch.randn(10, 50, dtype=torch.float64, generator=generator) * torch.linspace(0.2, 3, 10, dtype=torch.float64)[:, None]
    bias = torch.randn(10, dtype=torch.float64, generator=generator)
    x = torch.rand(64, 50, dtype=torch.float64, generator=generator)
    label = (x @ weight.T + bias).argmax(1)
    exact = linear_minimal_linf(weight, bias, x, label)
    mine = student(weight, bias, x)
    torch.testing.assert_close(mine, exact, msg="differs from the exact distance min over l of (f_k − f_l)/‖w_k − w_l‖₁ "
                               "(is the closest class always the runner-up?)")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## See it work
#
# Your (GNII) step against the solver, on one random gradient:

# %% tags=["otter_ignore"]
from advlab.convex_theory import gnii_by_solver

grad = torch.randn(4, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
for p in (1, 2, math.inf):
    solver_value, _ = gnii_by_solver(grad, torch.zeros(4, dtype=torch.float64), 0.5, p)
    print(p, "closed form:", (gnii_step(grad, 0.5, p) * grad).sum(1).numpy().round(6), " solver:", solver_value.numpy().round(6))
