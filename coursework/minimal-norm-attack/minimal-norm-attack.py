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
# # Assignment: a minimal-norm L2 attack, graded against the exact optimum
#
# Chapters **ddn** and **anu** of the book. Write a complete untargeted L2 minimal-norm attack: for
# each image, find an adversarial example as close to it as you can. DDN (Algorithm 1) is one
# answer; any method is fine, as long as you write it (calling one of the library's attacks scores
# nothing).
#
# The grader measures your attack where the answer is known exactly: on linear classifiers
# (`advlab.linear_models`), the smallest L2 perturbation that changes the decision inside the [0, 1]
# box is computed exactly, image by image, so the grader reports the **ratio** of your perturbation's
# norm to the optimum (1 is perfect).
#
# The contract, as every attack in `advlab`:
# - `attack(model, inputs, labels, steps=100)` returns adversarial images of the inputs' shape and
#   dtype, inside [0, 1], and leaves `inputs` unchanged; it works when called under `torch.no_grad()`;
# - it is batched and **per image**: the result for an image never depends on the other images of the
#   batch (no Python loop over images, no batch-wide step size), and it is deterministic;
# - it evaluates the model at most `2 * steps` times (each call on the whole batch).
#
# Points: q1 (the contract) 3, q2 (every image fooled) 2, q3 (mean ratio to the optimum ≤ 1.25: 2
# points; ≤ 1.05: 2 more) 4. DDN with 100 steps reaches about 1.01 here.

# %%
import torch
from torch.nn import functional as F

from advlab.linear_models import make_inputs, make_model, ratios

# %% [raw]
# # BEGIN QUESTION
# name: q1

# %% [markdown]
# ## q1–q3. Your attack
#
# Write `attack` below (q1 checks its contract, q2 and q3 its results; the cell belongs to all three).

# %% [raw]
# # BEGIN SOLUTION

# %%
def attack(model, inputs, labels, steps=100):
    """Untargeted L2 minimal-norm attack: per image, the closest adversarial example found."""
    # BEGIN SOLUTION
    batch = inputs.shape[0]
    view = (-1,) + (1,) * (inputs.dim() - 1)
    delta = torch.zeros_like(inputs)
    eps = torch.ones(batch, dtype=inputs.dtype)
    best = inputs.clone()
    best_norm = torch.full((batch,), float("inf"), dtype=inputs.dtype)
    worst_norm = torch.maximum(inputs, 1 - inputs).flatten(1).norm(dim=1)
    for k in range(steps):
        alpha = 0.01 + 0.99 * (1 + torch.cos(torch.tensor(k / steps * torch.pi))) / 2
        x = (inputs + delta).detach().requires_grad_(True)
        with torch.enable_grad():
            logits = model(x)
            loss = F.cross_entropy(logits, labels, reduction="sum")
            grad = torch.autograd.grad(loss, x)[0]
        adversarial = logits.argmax(1) != labels
        norm = delta.flatten(1).norm(dim=1)
        improved = adversarial & (norm < best_norm)
        best = torch.where(improved.view(view), x.detach(), best)
        best_norm = torch.where(improved, norm, best_norm)
        grad_norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12)
        delta = delta + alpha * grad / grad_norm.view(view)
        eps = torch.minimum(torch.where(adversarial, eps * 0.95, eps * 1.05), worst_norm)
        delta = delta * (eps / delta.flatten(1).norm(dim=1).clamp_min(1e-12)).view(view)
        delta = (inputs + delta).clamp(0, 1) - inputs
    return best
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q1_public(attack):
    import torch
    from advlab.linear_models import make_inputs, make_model
    model = make_model((1, 8, 8), 10, scale=10.0, seed=5)
    inputs, labels = make_inputs(model, (1, 8, 8), 4, seed=6)
    before = inputs.clone()
    out = attack(model, inputs, labels, steps=20)
    assert isinstance(out, torch.Tensor) and out.shape == inputs.shape and out.dtype == inputs.dtype, \
        "return adversarial images of the inputs' shape and dtype"
    assert torch.equal(inputs, before), "the attack must not modify its inputs"
    assert out.min() >= 0 and out.max() <= 1, "adversarial images must stay in the box [0, 1]"

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_no_grad(attack):
    import torch
    from advlab.coursework import LIBRARY_ATTACKS, own_function
    from advlab.linear_models import make_inputs, make_model
    student = own_function(attack, "attack", LIBRARY_ATTACKS)
    model = make_model((1, 8, 8), 10, scale=10.0, seed=7)
    inputs, labels = make_inputs(model, (1, 8, 8), 8, seed=8)
    with torch.no_grad():
        out = student(model, inputs, labels, steps=30)
    assert (out - inputs).flatten(1).norm(dim=1).gt(0).all(), \
        "under torch.no_grad() the attack returned clean images: compute gradients with torch.enable_grad()"

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_per_image(attack):
    import torch
    from advlab.coursework import LIBRARY_ATTACKS, own_function
    from advlab.linear_models import make_inputs, make_model
    student = own_function(attack, "attack", LIBRARY_ATTACKS)
    model = make_model((1, 8, 8), 10, scale=10.0, seed=9)
    inputs, labels = make_inputs(model, (1, 8, 8), 12, seed=10)
    whole = student(model, inputs, labels, steps=50)
    for part in (slice(0, 5), slice(5, 12)):
        torch.testing.assert_close(student(model, inputs[part], labels[part], steps=50), whole[part], atol=1e-5, rtol=0,
                                   msg="attacking part of the batch changed the result: keep every quantity per image")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q2_public(attack):
    from advlab.linear_models import make_inputs, make_model
    model = make_model((1, 8, 8), 10, scale=10.0, seed=5)
    inputs, labels = make_inputs(model, (1, 8, 8), 4, seed=6)
    out = attack(model, inputs, labels, steps=100)
    assert (model(out).argmax(1) != labels).all(), "some images are still classified correctly"

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q2_all_fooled(attack):
    from advlab.coursework import LIBRARY_ATTACKS, linear_model_ratios, own_function
    ratios = linear_model_ratios(own_function(attack, "attack", LIBRARY_ATTACKS))
    fooled = ratios.isfinite().float().mean().item()
    assert fooled == 1.0, f"only {100 * fooled:.0f} % of 64 images fooled on two linear models"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q3

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_q3_ratio_125(attack):
    from advlab.coursework import LIBRARY_ATTACKS, linear_model_ratios, own_function
    mean = linear_model_ratios(own_function(attack, "attack", LIBRARY_ATTACKS)).mean().item()
    assert mean <= 1.25, f"mean ratio to the optimum {mean:.3f} over 64 images (an image not fooled counts as ∞); needs ≤ 1.25"

# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_q3_ratio_105(attack):
    from advlab.coursework import LIBRARY_ATTACKS, linear_model_ratios, own_function
    mean = linear_model_ratios(own_function(attack, "attack", LIBRARY_ATTACKS)).mean().item()
    assert mean <= 1.05, f"mean ratio to the optimum {mean:.3f} over 64 images; needs ≤ 1.05 for these 2 points"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## See it work
#
# Your attack's ratio to the exact optimum, image by image, on a linear model:

# %% tags=["otter_ignore"]
model = make_model((1, 8, 8), 10, scale=10.0, seed=1)
inputs, labels = make_inputs(model, (1, 8, 8), 32, seed=2)
adversarial = attack(model, inputs, labels, steps=100)
print("fooled:", (model(adversarial).argmax(1) != labels).float().mean().item())
print("mean ratio to the exact optimum:", ratios(model, inputs, adversarial, labels, 2).mean().item())
