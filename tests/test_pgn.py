"""PGN defense (chapter pgn): the generator's box and gradients, one minimax step, training with
atomic checkpoints and exact resume. MNIST only (committed data). The robustness-curve evaluation is
tested in test_evaluate.py."""

import copy
from dataclasses import replace

import pytest
import torch
from torch.nn import functional as F

from advlab import data, zoo
from advlab.defenses.pgn import (AttackerRecipe, PGNRecipe, PerturbationGenerator, equal_l2_flags, generator_path,
                                 generator_strength, pgn_perturb, pgn_step, tanh_compose, train_attacker, train_generator,
                                 train_pgn, true_class_gradient, inner_maximum, penalized_objective)
from advlab.fileio import sha256sum
from advlab.zoo.architectures import convpool_cnn, normalized
from advlab.training import training_state_path

FIT_FIELDS = ("epochs", "seed", "test_accuracy", "test_samples", "training_seconds", "advlab_version", "torch_version",
              "sha256", "generator_sha256", "history")


@pytest.fixture(scope="module")
def mnist():
    return data.load("mnist", "train"), data.first_test_images("mnist", 200)


def tiny_classifier(seed: int = 0):
    torch.manual_seed(seed)
    return normalized(convpool_cnn(1, 10, width=4), "mnist")


@pytest.mark.parametrize("channels,size", [(3, 32), (1, 28)])
def test_adversarial_images_stay_in_the_box_and_gradients_reach_both_networks(channels, size):
    torch.manual_seed(0)
    classifier, generator = convpool_cnn(channels, 10, width=4), PerturbationGenerator(10, channels, size, width=8)
    x = torch.rand(6, channels, size, size)
    x[0], x[1] = 0.0, 1.0  # the box's faces: atanh stays finite
    y = torch.arange(6)
    x_adv = pgn_perturb(classifier, generator, x, y, create_graph=True)
    assert x_adv.shape == x.shape and torch.isfinite(x_adv).all()
    assert x_adv.min() >= 0 and x_adv.max() <= 1 and (x_adv - x).abs().max() > 1e-2
    x_adv.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in generator.parameters())
    assert all(p.grad is not None for p in classifier.parameters())  # through ∇ₓF: double backprop
    with torch.no_grad():  # a huge generator output still lands in [0, 1]
        generator.out.weight.mul_(1e4)
        x_adv = pgn_perturb(classifier, generator, x, y)
    assert torch.isfinite(x_adv).all() and x_adv.min() >= 0 and x_adv.max() <= 1
    silent = PerturbationGenerator(10, channels, size, width=8, init_scale=0.0)  # starts at x_adv ≈ x
    torch.testing.assert_close(pgn_perturb(classifier, silent, x, y), x, atol=1e-5, rtol=0)


def test_double_backprop_changes_only_the_classifier_gradient():
    torch.manual_seed(0)
    classifier, generator = convpool_cnn(1, 10, width=4).double(), PerturbationGenerator(10, 1, 28, width=8).double()
    x, y = torch.rand(16, 1, 28, 28, dtype=torch.float64), torch.arange(16) % 10
    grads = {}
    for second_order in (False, True):
        f, g = copy.deepcopy(classifier), copy.deepcopy(generator)
        pgn_step(f, g, torch.optim.SGD([*f.parameters(), *g.parameters()], lr=0.0), x, y, c_l=50.0,
                 double_backprop=second_order)
        grads[second_order] = [p.grad for p in f.parameters()], [p.grad for p in g.parameters()]
    for first, second in zip(grads[False][1], grads[True][1]):
        torch.testing.assert_close(first, second)
    assert any(not torch.allclose(a, b) for a, b in zip(grads[False][0], grads[True][0]))


def test_one_generator_step_raises_the_loss_of_a_fixed_classifier(mnist):
    classifier = zoo.load("mnist-smallcnn")  # eval mode, frozen
    test = data.first_test_images("mnist", 300)
    x, y = test.images, test.labels
    torch.manual_seed(0)
    generator = PerturbationGenerator(10, 1, 28, width=16, init_scale=0.1)  # ‖δ‖₂ ≈ 0.5
    optimizer = torch.optim.Adam(generator.parameters(), lr=5e-4)

    def losses(c_l):
        with torch.no_grad():
            x_adv = pgn_perturb(classifier, generator, x, y)
            ce = F.cross_entropy(classifier(x_adv), y).item()
        return ce, ce - c_l * (x_adv - x).flatten(1).square().sum(1).mean().item()

    for c_l in (0.0, 50.0):
        before = losses(c_l)
        step = pgn_step(classifier, generator, optimizer, x, y, c_l=c_l, train_classifier=False)
        after = losses(c_l)
        assert step["loss"] == pytest.approx(before[0], rel=1e-4)
        assert after[1] > before[1]  # the generator's objective CE − c_L‖δ‖₂² went up
        if c_l == 0:
            assert after[0] > 1.02 * before[0]  # and without the penalty, the classifier's loss itself
    assert not any(p.requires_grad for p in classifier.parameters())


def test_train_pgn_saves_atomically_and_resumes_exactly(mnist, tmp_path):
    train_set, test_set = mnist
    recipe = PGNRecipe(epochs=2, c_l=50.0, batch_size=64, ema_decay=0.9, train_subset=320, holdout=64,
                       generator_width=8, augment=True, double_backprop=True, seed=3, note="test")
    whole = tmp_path / "whole" / "tiny-pgn.quick.pt"
    fields = train_pgn(tiny_classifier(), train_set, test_set, recipe, whole, progress=False)
    assert set(FIT_FIELDS) <= set(fields) and fields["epochs"] == 2 and fields["test_samples"] == 200
    assert fields["sha256"] == sha256sum(whole) and fields["generator_sha256"] == sha256sum(generator_path(whole))
    assert [sorted(epoch) for epoch in fields["history"]] == 2 * [sorted(
        ["epoch", "loss", "generator_loss", "mean_l2", "seconds", "holdout_accuracy"])]
    curves = train_pgn(tiny_classifier(), train_set, test_set, replace(recipe, epochs=1, curve_images=16, double_backprop=False),
                       tmp_path / "curves" / "tiny-pgn.quick.pt", progress=False)["history"][0]
    assert {"holdout_rho_ddn", "generator_accuracy", "noise_accuracy", "fgm_accuracy", "pgd_accuracy",
            "generator_mean_l2"} <= set(curves) and 0 <= curves["generator_accuracy"] <= 100
    assert sorted(p.name for p in whole.parent.iterdir()) == ["tiny-pgn.quick.generator.pt", "tiny-pgn.quick.pt"]
    generator = PerturbationGenerator(10, 1, 28, width=8)
    generator.load_state_dict(torch.load(generator_path(whole), weights_only=True))
    model = tiny_classifier()
    model.load_state_dict(torch.load(whole, weights_only=True))

    class Interrupt(Exception):
        pass

    def stop(epoch, metrics):
        raise Interrupt

    resumed = tmp_path / "resumed" / "tiny-pgn.quick.pt"
    with pytest.raises(Interrupt):
        train_pgn(tiny_classifier(), train_set, test_set, recipe, resumed, progress=False, on_epoch_end=stop)
    assert not resumed.exists() and training_state_path(resumed).exists()
    again = train_pgn(tiny_classifier(), train_set, test_set, recipe, resumed, progress=False)
    assert not training_state_path(resumed).exists()
    assert again["sha256"] == fields["sha256"] and again["generator_sha256"] == fields["generator_sha256"]
    assert [e["loss"] for e in again["history"]] == [e["loss"] for e in fields["history"]]


def test_a_generator_trained_alone_attacks_a_frozen_classifier(mnist):
    """E1's check: against the zoo's MNIST FCNN (frozen), a small generator trained alone for 100 steps
    lowers accuracy more than Gaussian noise of the same L2 norm, image by image; the classifier is untouched."""
    train, test = mnist
    classifier = zoo.load("mnist-fcnn", "quick").eval()
    before = copy.deepcopy(classifier.state_dict())
    seen = []
    generator = train_generator(classifier, train.images, train.labels, c_l=0.05, steps=100, lr=2e-3, width=8, every=50,
                                on_check=lambda step, g: seen.append(step))
    assert seen == [50, 100] and not generator.training
    assert all(torch.equal(before[k], v) for k, v in classifier.state_dict().items())
    flags = equal_l2_flags(classifier, generator, test.images, test.labels)
    assert set(flags) == {"generator", "noise", "fgm", "pgd", "l2"} and flags["l2"].mean() > 0.1
    assert flags["generator"].float().mean() < flags["noise"].float().mean() - 0.02
    assert flags["pgd"].float().mean() <= flags["fgm"].float().mean() + 0.02  # PGD at least about as strong as FGM


def test_the_ablated_generator_ignores_what_it_does_not_see():
    """E6 (Fig. 8): an omitted input is replaced by zeros; the output then does not depend on it."""
    torch.manual_seed(0)
    x, y = torch.rand(3, 1, 8, 8), torch.tensor([0, 1, 2])
    gradients = torch.randn(2, 3, 1, 8, 8)
    blind = PerturbationGenerator(10, 1, 8, width=4, inputs=("image",))
    torch.testing.assert_close(blind(gradients[0], x, y), blind(gradients[1], x, y))
    full = PerturbationGenerator(10, 1, 8, width=4)
    assert not torch.allclose(full(gradients[0], x, y), full(gradients[1], x, y))
    label_only = PerturbationGenerator(10, 1, 8, width=4, inputs=("label",))
    torch.testing.assert_close(label_only(gradients[0], x, y), label_only(gradients[1], torch.rand(3, 1, 8, 8), y))
    unlabelled = PerturbationGenerator(10, 1, 8, width=4, inputs=("gradient", "image"))
    torch.testing.assert_close(unlabelled(gradients[0], x, y), unlabelled(gradients[0], x, y.flip(0)))
    assert not torch.allclose(full(gradients[0], x, y), full(gradients[0], x, y.flip(0)))
    with pytest.raises(ValueError, match="inputs"):
        PerturbationGenerator(10, 1, 8, inputs=("logits",))


def test_the_penalty_is_on_the_pixel_perturbation_or_on_the_tanh_space_output():
    """Eq. 4 as printed penalises ‖G(·)‖₂² (tanh space), the official code ‖x_adv − x‖₂²: on an image at the
    box's face the two differ, and pgn_step reports each generator loss with its own penalty."""
    torch.manual_seed(0)
    classifier, generator = convpool_cnn(1, 10, width=4), PerturbationGenerator(10, 1, 8, width=4, init_scale=0.5)
    x, y = torch.rand(4, 1, 8, 8), torch.arange(4)
    for p in classifier.parameters():
        p.requires_grad_(False)
    reports = {}
    for penalty in ("pixel", "tanh"):
        g = copy.deepcopy(generator)
        reports[penalty] = pgn_step(classifier, g, torch.optim.SGD(g.parameters(), lr=0.0), x, y, c_l=1.0,
                                    penalty=penalty, train_classifier=False)
    w = generator(true_class_gradient(classifier, x, y), x, y)
    x_adv = tanh_compose(x, w)
    ce = F.cross_entropy(classifier(x_adv), y).item()
    pixel, tanh = (x_adv - x).flatten(1).square().sum(1).mean().item(), w.flatten(1).square().sum(1).mean().item()
    assert reports["pixel"]["generator_loss"] == pytest.approx(-ce + pixel, rel=1e-5)
    assert reports["tanh"]["generator_loss"] == pytest.approx(-ce + tanh, rel=1e-5)
    assert tanh > 2 * pixel  # |dx/dw| = (1 − tanh²)/2 ≤ 1/2: the tanh-space norm is the larger
    with pytest.raises(ValueError, match="penalty"):
        pgn_step(classifier, generator, torch.optim.SGD(generator.parameters(), lr=0.0), x, y, c_l=1.0, penalty="l1")


def test_train_attacker_keeps_the_classifier_and_records_the_generator_strength(mnist, tmp_path):
    """E1's zoo trainer: the frozen classifier is saved unchanged, the generator beside it, checks in the history."""
    train_set, test_set = mnist
    classifier = tiny_classifier()
    before = copy.deepcopy(classifier.state_dict())
    recipe = AttackerRecipe(steps=4, c_l=0.1, init_from="tiny", generator_width=4, generator_hidden=16,
                            train_subset=600, holdout=100, every=2, curve_images=20, batch_size=64)
    path = tmp_path / "tiny-attacker.quick.pt"
    fields = train_attacker(classifier, train_set, test_set, recipe, path, progress=False)
    assert [c["step"] for c in fields["history"]] == [2, 4]
    assert set(fields["history"][0]) == {"step", "seconds", "generator_accuracy", "noise_accuracy", "fgm_accuracy",
                                         "pgd_accuracy", "generator_mean_l2"}
    saved = torch.load(path, weights_only=True)
    assert all(torch.equal(before[k], saved[k]) for k in before)
    assert fields["sha256"] == sha256sum(path) and fields["generator_sha256"] == sha256sum(generator_path(path))
    generator = PerturbationGenerator(10, 1, 28, width=4, hidden=16)
    generator.load_state_dict(torch.load(generator_path(path), weights_only=True))
    strength = generator_strength(classifier.eval(), generator, test_set.images[:20], test_set.labels[:20])
    assert set(strength) == set(fields["history"][0]) - {"step", "seconds"}


def test_inner_maximum_climbs_from_its_start_and_a_large_penalty_keeps_delta_near_zero(mnist):
    """C11's per-image search: never below δ = 0 (its first iterate), well above it for a small c_L, and its
    returned objective is the one of its returned images; a huge c_L pins the perturbation at 0."""
    _, test = mnist
    classifier = zoo.load("mnist-fcnn")
    x, y = test.images[:16], test.labels[:16]
    zero = penalized_objective(classifier, x, x, y, 0.01)
    best, adv = inner_maximum(classifier, x, y, 0.01, steps=30)
    assert (best >= zero - 1e-4).all() and best.mean() > zero.mean() + 0.5
    torch.testing.assert_close(penalized_objective(classifier, x, adv, y, 0.01), best, atol=1e-4, rtol=1e-4)
    _, pinned = inner_maximum(classifier, x, y, 1e4, steps=30)
    assert (pinned - x).flatten(1).norm(dim=1).max() < 0.05
