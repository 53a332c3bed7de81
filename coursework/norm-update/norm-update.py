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
# # Assignment: the steps that set the radius (DDN, ANU, EAD)
#
# Chapters **ddn**, **anu** and **ead** of the book. A minimal-norm attack moves its iterate in two
# ways: a gradient step on the *direction*, and a rule that sets the *size* of the perturbation. You
# write three of those rules; the rest of each attack comes from `advlab`, which runs exactly these
# functions (`advlab.attacks.ddn.norm_update`, `advlab.attacks.ddn.gamma_update`,
# `advlab.attacks.ead.shrink`). Every function works on a batch: one entry per image, no Python loop
# over images.
#
# Check your work with `grader.check("q1")` and so on. The public checks are a sanity test only; the
# grader also runs hidden tests on seeded inputs that reach every branch, and replays recorded attacks.
# Writing the function by calling the library's version scores nothing.
#
# Points: q1 4, q2 4, q3 4 (public checks 1 point each).

# %%
import torch

from advlab.attacks import ddn
from advlab.linear_models import make_inputs, make_model

# %% [raw]
# # BEGIN QUESTION
# name: q1

# %% [markdown]
# ## q1. DDN's norm update
#
# DDN (Algorithm 1, lines 7-10) shrinks the norm ε of the perturbation by a factor (1 − γ) when the
# current iterate is adversarial and grows it by (1 + γ) when it is not. The official code also never
# lets ε exceed the largest L2 distance the [0, 1] box allows around the image, `worst_norm`
# = ‖max(x, 1 − x)‖₂: write
#
# $$\varepsilon_{k} = \min\big(\varepsilon_{k-1}(1 - \gamma)\ \text{if adversarial else}\
# \varepsilon_{k-1}(1 + \gamma),\ \texttt{worst\_norm}\big).$$
#
# `eps`, `adversarial` (bool) and `worst_norm` have shape (N,); `gamma` is a number or an (N,) tensor.

# %% [raw]
# # BEGIN SOLUTION

# %%
def norm_update(eps, adversarial, gamma, worst_norm):
    """DDN's new norm per image (Algorithm 1, lines 7-10), capped at worst_norm."""
    # BEGIN SOLUTION
    scaled = torch.where(adversarial, eps * (1 - gamma), eps * (1 + gamma))
    return torch.minimum(scaled, worst_norm)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q1_public(norm_update):
    import torch
    out = norm_update(torch.tensor([1.0, 1.0]), torch.tensor([True, False]), 0.05, torch.tensor([5.0, 5.0]))
    assert isinstance(out, torch.Tensor) and out.shape == (2,), "return one new norm per image, a tensor of shape (N,)"
    torch.testing.assert_close(out, torch.tensor([0.95, 1.05]))

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_random_batch(norm_update):
    import torch
    from advlab.attacks.ddn import norm_update as reference
    from advlab.coursework import STEP_REFERENCES, own_function
    student = own_function(norm_update, "norm_update", STEP_REFERENCES)
    generator = torch.Generator().manual_seed(11)
    eps = torch.rand(64, generator=generator) * 3
    adversarial = torch.rand(64, generator=generator) < 0.5
    worst = torch.full((64,), 100.0)
    for gamma in (0.05, torch.rand(64, generator=generator) * 0.5):
        torch.testing.assert_close(student(eps, adversarial, gamma, worst), reference(eps, adversarial, gamma, worst),
                                   msg="the new norm differs from ε(1 − γ) / ε(1 + γ) on a random batch")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_cap(norm_update):
    import torch
    from advlab.attacks.ddn import norm_update as reference
    from advlab.coursework import STEP_REFERENCES, own_function
    student = own_function(norm_update, "norm_update", STEP_REFERENCES)
    eps = torch.tensor([1.0, 1.0, 2.0, 2.0, 3.0])
    adversarial = torch.tensor([False, True, False, True, False])
    worst = torch.tensor([1.02, 1.02, 2.5, 1.5, 3.0])
    torch.testing.assert_close(student(eps, adversarial, 0.05, worst), reference(eps, adversarial, 0.05, worst),
                               msg="ε must never exceed worst_norm (the cap), in either branch")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_replay_ddn(norm_update):
    import torch
    from advlab.attacks import ddn
    from advlab.coursework import STEP_REFERENCES, own_function
    from advlab.linear_models import make_inputs, make_model
    student = own_function(norm_update, "norm_update", STEP_REFERENCES)
    model = make_model((4,), 3, scale=0.5, seed=2)
    inputs, labels = make_inputs(model, (4,), 16, seed=3, min_distance=0.0)
    steps = []
    ddn(model, inputs, labels, steps=40, levels=None, callback=steps.append)
    worst = torch.maximum(inputs, 1 - inputs).flatten(1).norm(dim=1)
    eps = torch.ones(16)
    for step in steps:
        torch.testing.assert_close(student(eps, step.adversarial, step.gamma, worst), step.eps,
                                   msg=f"replaying a recorded DDN attack: ε differs at iteration {step.step}")
        eps = step.eps

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2

# %% [markdown]
# ## q2. ANU's self-adaptive γ
#
# ANU (Algorithm 2, lines 8-13) makes γ adapt per image: if the iterate has the same status
# (adversarial or not) as the previous one, the norm is still far from the boundary and γ grows,
# γ ← γ(1 + α_γ); if the status changed, the boundary was crossed and γ shrinks, γ ← γ(1 − α_γ).
# Algorithm 2 leaves γ unbounded (γ ≥ 1 would make ε(1 − γ) ≤ 0), so the library clamps it at
# `gamma_max`. Return the new γ and a bool tensor saying where the clamp was active (the value before
# clamping exceeded `gamma_max`).

# %% [raw]
# # BEGIN SOLUTION

# %%
def gamma_update(gamma, adversarial, previous_adversarial, alpha_gamma, gamma_max):
    """ANU's new γ per image (Algorithm 2, lines 8-13) and where the clamp at gamma_max was active."""
    # BEGIN SOLUTION
    same = adversarial == previous_adversarial
    unbounded = torch.where(same, gamma * (1 + alpha_gamma), gamma * (1 - alpha_gamma))
    return unbounded.clamp(max=gamma_max), unbounded > gamma_max
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q2_public(gamma_update):
    import torch
    out = gamma_update(torch.tensor([0.4, 0.4]), torch.tensor([True, True]), torch.tensor([True, False]), 0.1, 0.9)
    assert isinstance(out, tuple) and len(out) == 2, "return a pair: (new γ, where the clamp was active)"
    torch.testing.assert_close(out[0], torch.tensor([0.44, 0.36]))
    assert not out[1].any(), "the clamp is not active here"

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q2_random_batch(gamma_update):
    import torch
    from advlab.attacks.ddn import gamma_update as reference
    from advlab.coursework import STEP_REFERENCES, own_function
    student = own_function(gamma_update, "gamma_update", STEP_REFERENCES)
    generator = torch.Generator().manual_seed(12)
    gamma = torch.rand(64, generator=generator) * 0.6
    adversarial = torch.rand(64, generator=generator) < 0.5
    previous = torch.rand(64, generator=generator) < 0.5
    got, expected = student(gamma, adversarial, previous, 0.15, 10.0), reference(gamma, adversarial, previous, 0.15, 10.0)
    torch.testing.assert_close(got[0], expected[0], msg="γ differs on a random batch (same status: ×(1 + α_γ), changed: ×(1 − α_γ))")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q2_clamp(gamma_update):
    import torch
    from advlab.attacks.ddn import gamma_update as reference
    from advlab.coursework import STEP_REFERENCES, own_function
    student = own_function(gamma_update, "gamma_update", STEP_REFERENCES)
    gamma = torch.tensor([0.85, 0.85, 0.9, 0.5, 0.9])
    adversarial = torch.tensor([True, True, False, False, True])
    previous = torch.tensor([True, False, False, False, False])
    got, expected = student(gamma, adversarial, previous, 0.1, 0.9), reference(gamma, adversarial, previous, 0.1, 0.9)
    torch.testing.assert_close(got[0], expected[0], msg="γ must be clamped at gamma_max")
    assert torch.equal(got[1], expected[1]), "the second output must be True exactly where γ(1 + α_γ) exceeded gamma_max"

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q2_replay_anu(gamma_update):
    import torch
    from advlab.attacks import anu
    from advlab.attacks._common import cosine_schedule
    from advlab.coursework import STEP_REFERENCES, own_function
    from advlab.linear_models import make_inputs, make_model
    student = own_function(gamma_update, "gamma_update", STEP_REFERENCES)
    model = make_model((4,), 3, scale=0.5, seed=2)
    inputs, labels = make_inputs(model, (4,), 16, seed=3, min_distance=0.0)
    steps = []
    anu(model, inputs, labels, steps=40, gamma_init=0.4, alpha_gamma=0.15, levels=None, callback=steps.append)
    alphas = cosine_schedule(40, 0.15, 0.01 * 0.15)
    gamma, previous = torch.full((16,), 0.4), torch.zeros(16, dtype=torch.bool)
    for step in steps:
        new, at_bound = student(gamma, step.adversarial, previous, alphas[step.step], 0.9)
        torch.testing.assert_close(new, step.gamma, msg=f"replaying a recorded ANU attack: γ differs at iteration {step.step}")
        assert torch.equal(at_bound, step.gamma_at_bound), f"replaying ANU: the clamp flag differs at iteration {step.step}"
        gamma, previous = step.gamma, step.adversarial

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q3

# %% [markdown]
# ## q3. EAD's projected shrinkage-thresholding
#
# EAD (Eq. 9) handles the L1 term of its objective with the operator S_β applied to each pixel:
# where z − x₀ > β the pixel moves to z − β, where z − x₀ < −β it moves to z + β, and otherwise
# (the dead zone |z − x₀| ≤ β) it returns to x₀. The result is then clipped to the box [0, 1].
# `z` and `x0` are image batches of the same shape; `beta` is a number.

# %% [raw]
# # BEGIN SOLUTION

# %%
def shrink(z, x0, beta):
    """Projected shrinkage-thresholding S_β of EAD (Eq. 9), clipped to [0, 1]."""
    # BEGIN SOLUTION
    shift = z - x0
    up = (z - beta).clamp(max=1)
    down = (z + beta).clamp(min=0)
    return torch.where(shift > beta, up, torch.where(shift < -beta, down, x0))
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q3_public(shrink):
    import torch
    out = shrink(torch.tensor([[0.8, 0.5, 0.2]]), torch.tensor([[0.5, 0.5, 0.5]]), 0.1)
    assert isinstance(out, torch.Tensor) and out.shape == (1, 3), "return a batch of the inputs' shape"
    torch.testing.assert_close(out, torch.tensor([[0.7, 0.5, 0.3]]))

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q3_random_batch(shrink):
    import torch
    from advlab.attacks.ead import shrink as reference
    from advlab.coursework import STEP_REFERENCES, own_function
    student = own_function(shrink, "shrink", STEP_REFERENCES)
    generator = torch.Generator().manual_seed(13)
    x0 = 0.3 + 0.4 * torch.rand(8, 1, 6, 6, generator=generator)
    z = x0 + 0.5 * (torch.rand(8, 1, 6, 6, generator=generator) - 0.5)
    torch.testing.assert_close(student(z, x0, 0.05), reference(z, x0, 0.05),
                               msg="S_β differs on a random batch inside the box")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q3_dead_zone_edges(shrink):
    import torch
    from advlab.attacks.ead import shrink as reference
    from advlab.coursework import STEP_REFERENCES, own_function
    student = own_function(shrink, "shrink", STEP_REFERENCES)
    x0 = torch.full((1, 6), 0.5, dtype=torch.float64)
    z = torch.tensor([[0.75, 0.25, 0.7, 0.3, 0.5, 0.76]], dtype=torch.float64)
    torch.testing.assert_close(student(z, x0, 0.25), reference(z, x0, 0.25),
                               msg="where |z − x₀| ≤ β (boundary included) the pixel must return to x₀")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q3_box(shrink):
    import torch
    from advlab.attacks.ead import shrink as reference
    from advlab.coursework import STEP_REFERENCES, own_function
    student = own_function(shrink, "shrink", STEP_REFERENCES)
    x0 = torch.tensor([[0.9, 0.1, 0.95, 0.05]])
    z = torch.tensor([[1.6, -0.6, 1.02, -0.01]])
    torch.testing.assert_close(student(z, x0, 0.05), reference(z, x0, 0.05),
                               msg="the result must be clipped to the box [0, 1]")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## See it work
#
# With your functions in place, the library's attacks run the same steps. DDN on a small linear model
# whose minimal perturbations are known exactly (`advlab.linear_models`):

# %% tags=["otter_ignore"]
model = make_model((1, 8, 8), 10, scale=10.0, seed=1)
inputs, labels = make_inputs(model, (1, 8, 8), 16, seed=2)
adversarial = ddn(model, inputs, labels, steps=100)
print("mean L2 of DDN-100:", (adversarial - inputs).flatten(1).norm(dim=1).mean().item())
