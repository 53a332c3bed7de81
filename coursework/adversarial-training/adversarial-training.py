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
# # Assignment: adversarial training on a CPU budget
#
# Chapters **pgn** (PGD adversarial training, the baseline PGN is compared with) and **ddn** (its
# defense). You write the inner maximisation, an L2 PGD attack, and a training loop that uses it. The
# grader then trains a fresh network **with your `train` function**, on its own seed, and re-measures
# the result itself with the library's attacks: L2 PGD-20 and DeepFool at ε = 1.5 on 500 MNIST test
# images. Numbers you print are never used.
#
# The network is `fcnn(784, (128,), 10)` from `advlab.zoo.architectures` (one hidden layer); the data,
# the first 4,000 MNIST training images. On this laptop-sized problem, 5 epochs of PGD-5 training take
# a few seconds on one CPU core; plain training gives 11–12 % robust accuracy at ε = 1.5, and
# adversarial training 46–47 %. `train` must finish within 60 s on the grader's CPU.
#
# Points: q1 (PGD) 4, q2 (training, re-measured) 5: clean accuracy ≥ 80 % (1), robust accuracy at
# ε = 1.5 ≥ 25 % (2) and ≥ 40 % (2).

# %%
import time

import torch
from torch.nn import functional as F

from advlab import data
from advlab.coursework import remeasured_robustness
from advlab.zoo.architectures import fcnn

# %% [raw]
# # BEGIN QUESTION
# name: q1

# %% [markdown]
# ## q1. L2 PGD, the inner maximisation
#
# Starting from a random point of the ε-ball (drawn with `generator`, clipped to the box), take
# `steps` steps of size 2.5ε/`steps` along the normalised cross-entropy gradient ∇/‖∇‖₂, each
# followed by projection onto the L2 ball of radius `eps` around the image and clipping to [0, 1].
# Return the last iterate. Every quantity is per image.

# %% [raw]
# # BEGIN SOLUTION

# %%
def pgd_l2(model, images, labels, eps, steps, generator):
    """L2 PGD (Madry et al.): maximise the cross-entropy in the ε-ball around each image, inside [0, 1]."""
    # BEGIN SOLUTION
    view = (-1,) + (1,) * (images.dim() - 1)
    direction = torch.randn(images.shape, generator=generator)
    radius = eps * torch.rand(images.shape[0], generator=generator)
    delta = direction / direction.flatten(1).norm(dim=1).view(view) * radius.view(view)
    delta = (images + delta).clamp(0, 1) - images
    for _ in range(steps):
        delta.requires_grad_(True)
        with torch.enable_grad():
            loss = F.cross_entropy(model(images + delta), labels, reduction="sum")
            grad = torch.autograd.grad(loss, delta)[0]
        delta = delta.detach() + 2.5 * eps / steps * grad / grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(view)
        delta = delta * (eps / delta.flatten(1).norm(dim=1).clamp_min(1e-12)).clamp(max=1).view(view)
        delta = (images + delta).clamp(0, 1) - images
    return (images + delta).detach()
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q1_public(pgd_l2):
    import torch
    from advlab.linear_models import make_inputs, make_model
    model = make_model((1, 8, 8), 10, scale=10.0, seed=5)
    images, labels = make_inputs(model, (1, 8, 8), 8, seed=6)
    out = pgd_l2(model, images, labels, 0.5, 10, torch.Generator().manual_seed(0))
    assert isinstance(out, torch.Tensor) and out.shape == images.shape, "return a batch of the images' shape"
    assert out.min() >= 0 and out.max() <= 1, "stay inside the box [0, 1]"
    assert (out - images).flatten(1).norm(dim=1).max() <= 0.5 + 1e-4, "stay inside the L2 ball of radius eps"

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_constraints(pgd_l2):
    import torch
    from advlab.coursework import LIBRARY_ATTACKS, own_function
    from advlab.linear_models import make_inputs, make_model
    student = own_function(pgd_l2, "pgd_l2", LIBRARY_ATTACKS)
    model = make_model((1, 28, 28), 10, scale=10.0, seed=21)
    images, labels = make_inputs(model, (1, 28, 28), 32, seed=22)
    for eps in (0.3, 2.0):
        out = student(model, images, labels, eps, 10, torch.Generator().manual_seed(1))
        norms = (out - images).flatten(1).norm(dim=1)
        assert norms.max() <= eps * (1 + 1e-4), f"a perturbation of L2 norm {norms.max():.3f} exceeds ε = {eps}: project onto the ball"
        assert out.min() >= 0 and out.max() <= 1, "clip every iterate to the box [0, 1]"

# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_q1_strength(pgd_l2):
    import torch
    from torch.nn import functional as F
    from advlab.attacks import pgd
    from advlab.coursework import LIBRARY_ATTACKS, own_function
    from advlab.linear_models import make_inputs, make_model
    student = own_function(pgd_l2, "pgd_l2", LIBRARY_ATTACKS)
    model = make_model((1, 28, 28), 10, scale=10.0, seed=23)
    images, labels = make_inputs(model, (1, 28, 28), 64, seed=24)
    eps = 0.3
    mine = student(model, images, labels, eps, 10, torch.Generator().manual_seed(2))
    reference = pgd(model, images, labels, eps=eps, norm=2, steps=10, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        loss_mine = F.cross_entropy(model(mine), labels).item()
        loss_reference = F.cross_entropy(model(reference), labels).item()
    assert loss_mine >= 0.95 * loss_reference, \
        f"mean cross-entropy at your PGD's output {loss_mine:.3f}, the library's {loss_reference:.3f}: ascend the loss"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2

# %% [markdown]
# ## q2. Adversarial training
#
# Train `model` (in place, or return a new one of the same architecture) on `images`, `labels` by
# minimising the cross-entropy on `pgd_l2` examples (Madry et al.'s min-max). Draw all randomness
# (shuffling, PGD's start) from `generator`; return the model in eval mode. Choose ε, the number of
# PGD steps, the epochs and the optimiser yourself; stay well inside 60 s.

# %% [raw]
# # BEGIN SOLUTION

# %%
def train(model, images, labels, generator):
    """PGD adversarial training of ``model`` on (images, labels); all randomness from ``generator``."""
    # BEGIN SOLUTION
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(5):
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images), 64):
            batch = order[start:start + 64]
            model.eval()
            adversarial = pgd_l2(model, images[batch], labels[batch], 1.5, 5, generator)
            model.train()
            loss = F.cross_entropy(model(adversarial), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 0
""" # END TEST CONFIG
def test_q2_public(train):
    import torch
    from advlab.zoo.architectures import fcnn
    torch.manual_seed(0)
    model = fcnn(784, (128,), 10)
    images, labels = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    trained = train(model, images, labels, torch.Generator().manual_seed(0))
    assert isinstance(trained, torch.nn.Module) and not trained.training, "return the trained model in eval mode"

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q2_clean(train):
    from advlab.coursework import adversarial_training_result
    result = adversarial_training_result(train)
    assert result["clean"].value >= 0.80, f"clean accuracy {result['clean'].format(3)} on 500 test images; needs ≥ 0.80"

# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_q2_robust_25(train):
    from advlab.coursework import adversarial_training_result
    result = adversarial_training_result(train)
    assert result["robust"].value >= 0.25, \
        f"robust accuracy at ε = 1.5 {result['robust'].format(3)} (95 % interval, 500 test images); needs ≥ 0.25"

# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_q2_robust_40(train):
    from advlab.coursework import adversarial_training_result
    result = adversarial_training_result(train)
    assert result["robust"].value >= 0.40, \
        f"robust accuracy at ε = 1.5 {result['robust'].format(3)} (95 % interval, 500 test images); needs ≥ 0.40"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## See it work
#
# The same measurement the grader makes (on a seed of yours):

# %% tags=["otter_ignore"]
training = data.load("mnist", "train")
torch.manual_seed(1)
model = fcnn(784, (128,), 10)
start = time.monotonic()
model = train(model, training.images[:4000], training.labels[:4000], torch.Generator().manual_seed(1))
print(f"trained in {time.monotonic() - start:.1f} s")
result = remeasured_robustness(model)
print("clean accuracy:", result["clean"].format(3), " robust accuracy at ε = 1.5:", result["robust"].format(3))
