"""Defenses: adversarial training raises robustness, an interrupted run resumes exactly, distillation."""

import copy

import pytest
import torch

from advlab import data, zoo
from advlab.defenses.distillation import distill, soft_labels
from advlab.evaluate import accuracy, pgd_accuracy
from advlab.training import Adversarial, Recipe, curve_metrics, fit, training_state_path

build_fcnn = zoo.ENTRIES["mnist-fcnn"].build


@pytest.fixture(scope="module")
def mnist():
    return data.load("mnist", "train"), data.load("mnist", "test")


@pytest.fixture(scope="module")
def base_model(mnist, tmp_path_factory):
    """A small clean FCNN (3 epochs on 4,096 images): the starting point of both arms of the AT test."""
    torch.manual_seed(0)
    model = build_fcnn()
    fit(model, *mnist, Recipe(epochs=3, lr=1e-3, optimizer="adam", train_subset=4096), tmp_path_factory.mktemp("base") / "m.pt",
        progress=False)
    return model


def test_adversarial_training_raises_robust_accuracy(mnist, base_model, tmp_path):
    """DDN-AT vs clean training continued for the same steps from the same model, robust accuracy at ε = 1
    (PGD-20) on 1,000 test images. The margin asked for, 15 points (0.15), is > 6 standard errors of the
    difference of two accuracies measured on 1,000 images (each ≤ 1.6 points), so no seed gives it by chance."""
    common = dict(epochs=2, lr=0.01, momentum=0.9, train_subset=4096, seed=1)
    arms = {}
    for name, adversarial in [("clean", None), ("ddn-at", Adversarial("ddn", 1.5, {"steps": 20, "gamma": 0.25}))]:
        model = copy.deepcopy(base_model)
        fit(model, *mnist, Recipe(adversarial=adversarial, **common), tmp_path / f"{name}.pt", progress=False)
        test = data.first_test_images("mnist", 1000)
        arms[name] = (accuracy(model, test.images, test.labels), pgd_accuracy(model, test.images, test.labels, 1.0))
    (clean_acc, clean_robust), (at_acc, at_robust) = arms["clean"], arms["ddn-at"]
    assert at_robust >= clean_robust + 0.15, arms
    assert at_acc > 0.85, arms  # still a classifier


def test_interrupted_training_resumes_to_the_same_weights(mnist, tmp_path):
    recipe = Recipe(epochs=3, lr=0.01, train_subset=768, holdout=256, eval_eps=0.5, seed=3, curve_images=16,
                    adversarial=Adversarial("pgd", 1.0, {"steps": 3, "step_size": 0.5, "random_init": True}))

    def train(path, on_epoch_end=None):
        torch.manual_seed(recipe.seed)
        return fit(build_fcnn(), *mnist, recipe, path, progress=False, on_epoch_end=on_epoch_end)

    uninterrupted = train(tmp_path / "straight.pt")

    def interrupt(epoch, metrics):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "resumed.pt", interrupt)
    assert training_state_path(tmp_path / "resumed.pt").exists() and not (tmp_path / "resumed.pt").exists()
    resumed = train(tmp_path / "resumed.pt")
    assert resumed["sha256"] == uninterrupted["sha256"]
    without_time = lambda history: [{k: v for k, v in epoch.items() if k != "seconds"} for epoch in history]
    assert without_time(resumed["history"]) == without_time(uninterrupted["history"])
    assert not training_state_path(tmp_path / "resumed.pt").exists()
    assert {"holdout_accuracy", "holdout_robust_accuracy_eps0.5", "holdout_rho_ddn", "seconds"} <= set(resumed["history"][0])


def test_the_learning_curves_rho_is_larger_for_an_adversarially_trained_model():
    """curve_metrics' ρ (Eq. 6 by DDN-100, chapter pgn) ranks the zoo's PGD-AT SmallCNN above its clean base."""
    test = data.first_test_images("mnist", 64)
    rho = {name: curve_metrics(zoo.load(name), test.images, test.labels)["holdout_rho_ddn"]
           for name in ("mnist-smallcnn", "mnist-smallcnn-pgd-at")}
    assert rho["mnist-smallcnn-pgd-at"] > 1.2 * rho["mnist-smallcnn"] > 0.5, rho


@pytest.fixture(scope="module")
def distilled(mnist, tmp_path_factory):
    """Students distilled at T = 1, 10, 100 (tiny FCNNs, 2,048 images, 2 epochs each)."""
    models = {}
    for temperature in (1, 10, 100):
        recipe = Recipe(epochs=2, lr=1e-3, optimizer="adam", train_subset=2048, temperature=temperature)
        torch.manual_seed(0)
        student = build_fcnn()
        fields = distill(student, *mnist, recipe, tmp_path_factory.mktemp("d") / "s.pt", progress=False)
        models[temperature] = (student.eval(), fields)
    return models


def test_student_matches_the_teachers_soft_labels(mnist, distilled, tmp_path):
    train_set, test_set = mnist
    student, fields = distilled[10]
    recipe = Recipe(epochs=2, lr=1e-3, optimizer="adam", train_subset=2048, temperature=10)
    torch.manual_seed(0)
    teacher = build_fcnn()
    fit(teacher, train_set, test_set, recipe, tmp_path / "t.pt", progress=False)  # the same teacher distill trained
    images = train_set.images[:2048]
    teacher_soft, student_soft = soft_labels(teacher, images, 10), soft_labels(student, images, 10)
    assert (teacher_soft - student_soft).abs().sum(1).mean() / 2 < 0.1  # mean total-variation distance
    assert (teacher_soft.argmax(1) == student_soft.argmax(1)).float().mean() > 0.8  # soft labels at T=10 are flat
    assert fields["teacher_test_accuracy"] > 50 and fields["test_accuracy"] > 50  # chance is 10 %


def test_deployed_logits_grow_with_temperature(mnist, distilled):
    """At T = 1 the student's logits are about T times larger: the softmax saturates (Papernot et al.)."""
    images = mnist[1].images[:1000]
    with torch.no_grad():
        scale = {t: model(images).std(1).mean().item() for t, (model, _) in distilled.items()}
    assert scale[1] * 2 < scale[10] < scale[100], scale  # short training: the growth is not yet T-fold
