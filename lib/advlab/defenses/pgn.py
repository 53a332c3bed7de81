"""Adversarial training with perturbation generator networks (PGN; ICLR 2020 submission; chapter pgn).

A generator G(∇ₓF, x, y; φ) learns to perturb the images on which the classifier F(x; θ) is trained,
the two playing the minimax game of Eq. 4 (Section 3.1):

    min_θ max_φ  E[ CE(F(x + G(·)), y; θ) − c_L·‖G(·)‖₂² ],

with the box constraint of Eq. 5 (tanh reparametrisation). ``train_pgn`` is the training loop of
the official code (the paper says only that the networks "are alternately trained") and a zoo
trainer (fit's signature). The paper's evaluation, the robustness-curve of Section 4.2 (Eq. 6), is
``advlab.evaluate.robustness_curve``. ``train_generator`` trains the generator alone against a frozen
classifier (``train_attacker`` is its zoo trainer) and ``equal_l2_flags`` / ``generator_strength`` compare
it, image by image, with noise, FGM and PGD of the same L2 norm: whether the generator is an attack at
all (E1, Fig. 3). ``inner_maximum`` solves Eq. 4's inner problem image by image (Appendix A, claim C11).

Where the paper is silent or its official code differs, each a default that can be changed:

- ∇ₓF is the per-sample gradient of the true-class softmax probability (Section 3.1); the official
  code differentiates the batch mean, which divides every gradient by the batch size and makes the
  generator's input depend on it: ``batch_mean_gradient=True`` reproduces it.
- The classifier step is first order by default: ∇ₓF is a constant, so x_adv carries no θ-dependence
  (``double_backprop=False``), like the FGM-AT / PGD-AT baselines of ``advlab.training``. The
  official code back-propagates through x_adv, the generator and ∇ₓF, which the paper does not
  discuss: ``True``. In a 3-epoch CIFAR-10 run (4,000 images, width 16) the two agreed to four
  digits in loss and to 0.1 point in accuracy, the second-order step costing about 1.8×. The
  generator's gradient is the same either way.
- The penalty is c_L times the squared L2 norm of the pixel-space δ = x_adv − x, summed over pixels
  and averaged over the batch, as in the official code, where Eq. 4 prints ‖G(·)‖₂ of the tanh-space
  output (a departure; see the chapter's 'Departures from the paper'; ``penalty="tanh"`` is Eq. 4's);
  the classifier is trained on x_adv only (Table 1, "Adv Coefficient 1.0").
- One minimax step per minibatch: both gradients from the same forward pass, then one Adam step on
  θ and φ (the official code). The EMA (decay 0.998, Table 1) has no warm-up, as TensorFlow's
  without ``num_updates``.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from tqdm import tqdm

import advlab
from advlab.attacks import fgm, pgd
from advlab.evaluate import accuracy
from advlab.fileio import sha256sum
from advlab.training import as_percent, augment, curve_metrics, save_state, split, training_state_path

__all__ = ["PGNRecipe", "AttackerRecipe", "PerturbationGenerator", "true_class_gradient", "tanh_compose", "pgn_perturb",
           "pgn_step", "train_pgn", "generator_path", "train_generator", "train_attacker", "generator_strength",
           "equal_l2_flags", "penalized_objective", "inner_maximum", "GENERATOR_INPUTS", "PENALTIES", "TANH_SHRINK"]

GENERATOR_INPUTS = ("label", "gradient", "image")  # Table 1's three inputs (Fig. 1)
PENALTIES = ("pixel", "tanh")
# atanh(0.999999·(2x − 1)) stays finite at x ∈ {0, 1}, where Eq. 5's atanh(2x − 1) is not (the official code's factor)
TANH_SHRINK = 0.999999


@dataclass(frozen=True)
class PGNRecipe:
    """How a PGN model is trained (Table 1 and the official code); ``note`` is the zoo's summary.

    ``c_l`` is the trade-off c_L of Eq. 4 (50 in Tables 2–3); ``generator_width`` the channels of the
    generator's conv layers (128 in Table 1, whatever the classifier's width in the official code);
    ``ema_decay`` 0 evaluates the live weights. ``double_backprop`` and ``batch_mean_gradient`` are
    the module's decisions (see the module docstring). ``generator_init_scale`` scales the generator's
    He-normal output layer: 1 is the official code, where ‖δ‖₂ starts near 2 on CIFAR-10 and, Adam's
    steps being blind to the gradient's scale, shrinks at the same pace whatever c_L; 0 starts from
    δ ≈ 0, so that short runs reach each c_L's own equilibrium. ``generator_hidden`` is the first dense
    layer (1024 in Table 1), ``generator_inputs`` what the generator sees (E6's ablation, Fig. 8) and
    ``penalty`` what c_L multiplies (``pgn_step``). ``augment``, ``train_subset``, ``holdout`` and
    ``curve_images`` mean what they mean in ``Recipe``; with ``curve_images`` each epoch also records the
    generator's strength (``generator_strength``).
    """

    epochs: int
    c_l: float
    lr: float = 5e-4
    batch_size: int = 128
    ema_decay: float = 0.998
    augment: bool = False
    train_subset: int | None = None
    holdout: int = 0
    generator_width: int = 128
    double_backprop: bool = False
    batch_mean_gradient: bool = False
    generator_init_scale: float = 1.0
    generator_hidden: int = 1024
    generator_inputs: tuple[str, ...] = GENERATOR_INPUTS
    penalty: str = "pixel"
    curve_images: int = 0
    init_from: str | None = None  # as Recipe.init_from: the zoo loads that model's weights before training
    seed: int = 0
    note: str = ""


class PerturbationGenerator(nn.Module):
    """G(∇ₓF, x, y; φ) of Table 1: a label-conditioned decoder whose last layers see the gradient image
    and the image; it returns the perturbation in tanh space (linear output, Eq. 5).

    dense 1024 → concat y → dense (s/4)²·width → reshape → concat tiled y → 3×3 upconv stride 2 →
    concat tiled y → 3×3 upconv stride 2 → concat [∇ₓF, 2x − 1] → 3×3 conv width → 3×3 conv C.
    Table 1's two stride-1 "Upconv" layers are ordinary convolutions, leaky-ReLU 0.2 and He-normal
    initialisation, all as in the official code; ``init_scale`` multiplies the output
    layer's initial weights (0: the generator starts at x_adv ≈ x). ``image_size`` must be divisible
    by 4 (32 for CIFAR, 28 for MNIST). ``inputs`` names what the generator sees, of "label" (the one-hot y
    of the dense path and the tiled maps), "gradient" (∇ₓF) and "image" (2x − 1): an omitted one is replaced
    by zeros, the architecture unchanged (the ablation of Fig. 8, E6).
    """

    def __init__(self, num_classes: int, channels: int = 3, image_size: int = 32, width: int = 128,
                 hidden: int = 1024, init_scale: float = 1.0, inputs: tuple[str, ...] = GENERATOR_INPUTS):
        super().__init__()
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4, got {image_size}")
        if not set(inputs) <= set(GENERATOR_INPUTS):
            raise ValueError(f"inputs must be drawn from {GENERATOR_INPUTS}, got {inputs!r}")
        self.num_classes, self.width, self.side, self.inputs = num_classes, width, image_size // 4, tuple(inputs)
        self.dense1 = nn.Linear(num_classes, hidden)
        self.dense2 = nn.Linear(hidden + num_classes, width * self.side ** 2)
        self.up1 = nn.ConvTranspose2d(width + num_classes, width, 3, stride=2, padding=1, output_padding=1)
        self.up2 = nn.ConvTranspose2d(width + num_classes, width, 3, stride=2, padding=1, output_padding=1)
        self.conv = nn.Conv2d(width + 2 * channels, width, 3, padding=1)
        self.out = nn.Conv2d(width, channels, 3, padding=1)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")  # VarianceScaling(2.0), fan in
                nn.init.zeros_(module.bias)
        with torch.no_grad():
            self.out.weight.mul_(init_scale)

    def forward(self, gradient: Tensor, x: Tensor, y: Tensor) -> Tensor:
        act = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
        onehot = F.one_hot(y, self.num_classes).to(x.dtype) * ("label" in self.inputs)
        tiled = lambda t: torch.cat([t, onehot[:, :, None, None].expand(-1, -1, *t.shape[2:])], 1)  # noqa: E731
        h = act(self.dense1(onehot))
        h = act(self.dense2(torch.cat([h, onehot], 1))).view(-1, self.width, self.side, self.side)
        h = act(self.up1(tiled(h)))
        h = act(self.up2(tiled(h)))
        gradient = gradient if "gradient" in self.inputs else torch.zeros_like(gradient)
        image = 2 * x - 1 if "image" in self.inputs else torch.zeros_like(x)
        h = act(self.conv(torch.cat([h, gradient, image], 1)))
        return self.out(h)


def true_class_gradient(classifier: nn.Module, x: Tensor, y: Tensor, *, create_graph: bool = False,
                        batch_mean_gradient: bool = False) -> Tensor:
    """∇ₓF: the gradient of the true-class softmax probability F(x)_y (Section 3.1), per sample, or of the
    batch mean of those probabilities with ``batch_mean_gradient`` (the official code). ``create_graph``
    keeps it differentiable in θ (double backprop); computed even under ``torch.no_grad()``."""
    with torch.enable_grad():
        x_in = x.detach().requires_grad_(True)
        probability = torch.softmax(classifier(x_in), 1).gather(1, y[:, None])
        objective = probability.mean() if batch_mean_gradient else probability.sum()
        gradient, = torch.autograd.grad(objective, x_in, create_graph=create_graph)
    return gradient


def tanh_compose(x: Tensor, w: Tensor) -> Tensor:
    """x_adv = ½(tanh(atanh(0.999999·(2x − 1)) + w) + 1) (Eq. 5): the tanh-space output w added to x, in [0, 1]."""
    return (torch.tanh(torch.atanh(TANH_SHRINK * (2 * x - 1)) + w) + 1) / 2


def pgn_perturb(classifier: nn.Module, generator: PerturbationGenerator, x: Tensor, y: Tensor, *,
                create_graph: bool = False, batch_mean_gradient: bool = False) -> Tensor:
    """x_adv = ``tanh_compose``(x, G(∇ₓF, x, y)) (Eq. 5), shaped like x; ∇ₓF by ``true_class_gradient``
    (its arguments). The generator runs in the caller's grad mode."""
    gradient = true_class_gradient(classifier, x, y, create_graph=create_graph, batch_mean_gradient=batch_mean_gradient)
    return tanh_compose(x, generator(gradient, x, y))


def pgn_step(classifier: nn.Module, generator: PerturbationGenerator, optimizer: torch.optim.Optimizer,
             x: Tensor, y: Tensor, *, c_l: float, double_backprop: bool = False, batch_mean_gradient: bool = False,
             penalty: str = "pixel", train_classifier: bool = True) -> dict[str, float]:
    """One minimax step of Eq. 4 (the official code's loop): from one forward pass, ∇_θ CE(F(x_adv), y) and
    ∇_φ [−CE(F(x_adv), y) + c_L·mean ‖·‖₂²], then one ``optimizer`` step on both.

    ``penalty`` "pixel" squares the pixel-space δ = x_adv − x (the official code), "tanh" the generator's
    tanh-space output G(·) (Eq. 4 as printed). With ``train_classifier=False`` only φ moves (θ gets no
    gradient). Returns the batch's classifier loss, generator loss and mean ‖δ‖₂ (pixel space).
    """
    if penalty not in PENALTIES:
        raise ValueError(f"penalty must be one of {PENALTIES}, got {penalty!r}")
    classifier_params = [p for p in classifier.parameters() if p.requires_grad] if train_classifier else []
    generator_params = list(generator.parameters())
    second_order = double_backprop and train_classifier
    gradient = true_class_gradient(classifier, x, y, create_graph=second_order, batch_mean_gradient=batch_mean_gradient)
    w = generator(gradient, x, y)
    x_adv = tanh_compose(x, w)
    squared_l2 = (x_adv - x).flatten(1).square().sum(1)
    penalised = squared_l2 if penalty == "pixel" else w.flatten(1).square().sum(1)
    adversarial_loss = F.cross_entropy(classifier(x_adv), y)
    # first order, ∇ₓF is a constant: the penalty does not depend on θ and one backward pass serves both
    objective = adversarial_loss if second_order else adversarial_loss - c_l * penalised.mean()
    grads = torch.autograd.grad(objective, classifier_params + generator_params, retain_graph=second_order)
    classifier_grads, generator_grads = grads[:len(classifier_params)], grads[len(classifier_params):]
    if second_order:
        penalty_grads = torch.autograd.grad(penalised.mean(), generator_params)
        generator_grads = [grad - c_l * penalty for grad, penalty in zip(generator_grads, penalty_grads)]
    optimizer.zero_grad(set_to_none=True)  # a parameter that gets no gradient here does not move
    for param, grad in zip(classifier_params, classifier_grads):
        param.grad = grad
    for param, grad in zip(generator_params, generator_grads):
        param.grad = -grad
    optimizer.step()
    ce = adversarial_loss.item()
    return {"loss": ce, "generator_loss": -ce + c_l * penalised.mean().item(), "mean_l2": squared_l2.sqrt().mean().item()}


def generator_path(path: str | Path) -> Path:
    """Where ``train_pgn`` saves the EMA generator beside the classifier: ``<checkpoint>.generator.pt``."""
    return Path(path).with_suffix(".generator.pt")


@torch.no_grad()
def _ema_update(average: nn.Module, live: nn.Module, decay: float) -> None:
    """average ← decay·average + (1 − decay)·live, over the state dict (integer buffers are copied)."""
    for mean, value in zip(average.state_dict().values(), live.state_dict().values()):
        if mean.is_floating_point():
            mean.lerp_(value, 1 - decay)
        else:
            mean.copy_(value)


def train_pgn(model: nn.Module, train_set, test_set, recipe: PGNRecipe, path: str | Path, *, progress: bool = True,
              device: str | torch.device = "cpu", description: str = "",
              on_epoch_end: Callable[[int, dict], None] | None = None) -> dict:
    """Train ``model`` (the classifier, logits on [0,1] inputs) against a PGN (Table 1); a zoo trainer.

    Per minibatch one ``pgn_step`` (Adam, ``recipe.lr``), then an EMA (``recipe.ema_decay``) of
    classifier and generator; held-out and test accuracy are the EMA classifier's. Saves the EMA
    classifier's state dict at ``path`` (``model`` ends holding it) and the EMA generator at
    ``generator_path(path)``, both atomically. Data handling (subset, holdout, dropped last batch,
    crop + flip) is ``fit``'s. After every epoch the whole training state is saved atomically at
    ``training_state_path(path)``, then ``on_epoch_end(epoch, metrics)`` is called; a call that finds
    a state for the same recipe resumes from it and ends with the same weights as an uninterrupted
    run (CPU). Returns fit's manifest fields plus ``generator_sha256``; ``history`` holds per epoch
    the mean classifier loss, mean generator loss, mean ‖δ‖₂ and seconds, and with ``recipe.curve_images``
    the EMA classifier's ``curve_metrics`` and the EMA generator's ``generator_strength``.
    """
    path = Path(path)
    (images, labels, _), (held_images, held_labels), batches = split(train_set, recipe)

    torch.manual_seed(recipe.seed)
    random = torch.Generator().manual_seed(recipe.seed)
    with torch.no_grad():
        num_classes = model.to(device).eval()(images[:1].to(device)).shape[1]
    model.train()
    generator = PerturbationGenerator(num_classes, images.shape[1], images.shape[-1], recipe.generator_width,
                                      recipe.generator_hidden, recipe.generator_init_scale,
                                      recipe.generator_inputs).to(device)
    ema_model, ema_generator = copy.deepcopy(model).eval(), copy.deepcopy(generator).eval()
    optimizer = torch.optim.Adam([*model.parameters(), *generator.parameters()], lr=recipe.lr)
    modules = {"model": model, "generator": generator, "ema_model": ema_model, "ema_generator": ema_generator,
               "optimizer": optimizer}
    history: list[dict] = []
    state_path = training_state_path(path)
    if state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=False)
        if state["recipe"] == asdict(recipe):
            for key, module in modules.items():
                module.load_state_dict(state[key])
            random.set_state(state["random"])
            torch.set_rng_state(state["torch_rng"])
            history = state["history"]

    for epoch in range(len(history), recipe.epochs):
        start = time.perf_counter()
        order = torch.randperm(len(images), generator=random)
        totals = {"loss": 0.0, "generator_loss": 0.0, "mean_l2": 0.0}
        bar = tqdm(range(batches), desc=f"{description} epoch {epoch + 1}/{recipe.epochs}", disable=not progress,
                   leave=False)
        for b in bar:
            index = order[b * recipe.batch_size:(b + 1) * recipe.batch_size]
            x = (augment(images[index], random) if recipe.augment else images[index]).to(device)
            step = pgn_step(model, generator, optimizer, x, labels[index].to(device), c_l=recipe.c_l,
                            double_backprop=recipe.double_backprop, batch_mean_gradient=recipe.batch_mean_gradient,
                            penalty=recipe.penalty)
            _ema_update(ema_model, model, recipe.ema_decay)
            _ema_update(ema_generator, generator, recipe.ema_decay)
            totals = {key: total + step[key] for key, total in totals.items()}
            if b % 10 == 0:
                bar.set_postfix(loss=f"{step['loss']:.3f}", l2=f"{step['mean_l2']:.3f}")
        metrics = {"epoch": epoch + 1, **{key: round(total / batches, 4) for key, total in totals.items()},
                   "seconds": round(time.perf_counter() - start, 1)}
        if recipe.holdout:
            metrics["holdout_accuracy"] = as_percent(accuracy(ema_model, held_images, held_labels))
        if recipe.curve_images:
            curve = held_images[:recipe.curve_images].to(device), held_labels[:recipe.curve_images].to(device)
            metrics.update(curve_metrics(ema_model, *curve), **generator_strength(ema_model, ema_generator, *curve))
        history.append(metrics)
        save_state(state_path, {"recipe": asdict(recipe), **{key: module.state_dict() for key, module in modules.items()},
                                "random": random.get_state(), "torch_rng": torch.get_rng_state(), "history": history})
        if progress:
            print(f"{description} " + ", ".join(f"{k} {v}" for k, v in metrics.items()), flush=True)
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, metrics)

    model.load_state_dict(ema_model.state_dict())
    model.eval()
    test_accuracy = accuracy(model, test_set.images, test_set.labels)
    save_state(generator_path(path), ema_generator.state_dict())
    save_state(path, model.state_dict())
    state_path.unlink(missing_ok=True)
    return {
        "epochs": recipe.epochs, "seed": recipe.seed, "test_accuracy": as_percent(test_accuracy),
        "test_samples": len(test_set), "training_seconds": round(sum(m["seconds"] for m in history), 1),
        "history": history, "device": str(device), "advlab_version": advlab.__version__,
        "torch_version": torch.__version__, "sha256": sha256sum(path), "generator_sha256": sha256sum(generator_path(path)),
    }



def train_generator(classifier: nn.Module, images: Tensor, labels: Tensor, *, c_l: float, steps: int, lr: float = 5e-4,
                    batch_size: int = 128, width: int = 128, hidden: int = 1024, init_scale: float = 0.0,
                    inputs: tuple[str, ...] = GENERATOR_INPUTS, seed: int = 0, device: str | torch.device = "cpu",
                    every: int | None = None,
                    on_check: Callable[[int, PerturbationGenerator], None] | None = None) -> PerturbationGenerator:
    """The generator alone against a frozen ``classifier`` (eval mode, θ fixed): ``steps`` minibatches of
    ``pgn_step(..., train_classifier=False)``, i.e. Adam ascent on CE(F(x_adv), y) − c_L·‖δ‖₂² (Eq. 4's inner
    max; chapter pgn, E1: is the generator an attack at all?). Minibatches of ``images`` in a seeded random
    order; ``on_check(step, generator)`` after every ``every`` steps; ``inputs`` as the generator's (E6's
    ablation). Returns the generator.
    """
    classifier = classifier.to(device).eval()
    torch.manual_seed(seed)
    random = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        num_classes = classifier(images[:1].to(device)).shape[1]
    generator = PerturbationGenerator(num_classes, images.shape[1], images.shape[-1], width, hidden, init_scale,
                                      inputs).to(device)
    optimizer = torch.optim.Adam(generator.parameters(), lr=lr)
    per_epoch = len(images) // batch_size
    if per_epoch == 0:
        raise ValueError(f"batch size {batch_size} exceeds the {len(images)} training images")
    order = torch.randperm(len(images), generator=random)
    for step in range(steps):
        if step and step % per_epoch == 0:
            order = torch.randperm(len(images), generator=random)
        index = order[(step % per_epoch) * batch_size:(step % per_epoch + 1) * batch_size]
        pgn_step(classifier, generator, optimizer, images[index].to(device), labels[index].to(device), c_l=c_l,
                 train_classifier=False)
        if every and on_check is not None and (step + 1) % every == 0:
            on_check(step + 1, generator)
    return generator.eval()


@dataclass(frozen=True)
class AttackerRecipe:
    """A generator trained alone against the frozen zoo classifier ``init_from`` (``train_attacker``; E1):
    ``steps`` Adam steps at trade-off ``c_l``, checked every ``every`` steps on the ``curve_images`` first
    held-out images (``train_subset`` and ``holdout`` as in ``Recipe``)."""

    steps: int
    c_l: float
    init_from: str
    lr: float = 5e-4
    batch_size: int = 128
    generator_width: int = 32
    generator_hidden: int = 1024
    train_subset: int | None = None
    holdout: int = 0
    every: int = 100
    curve_images: int = 0
    seed: int = 0
    note: str = ""


def train_attacker(model: nn.Module, train_set, test_set, recipe: AttackerRecipe, path: str | Path, *,
                   progress: bool = True, device: str | torch.device = "cpu", description: str = "",
                   on_epoch_end: Callable[[int, dict], None] | None = None) -> dict:
    """A zoo trainer (fit's signature) for an ``AttackerRecipe``: ``model`` holds the frozen classifier, which is
    saved unchanged at ``path``; the generator (``train_generator``) at ``generator_path(path)``, both atomically.
    ``history`` holds per check the step, seconds and ``generator_strength`` on the held-out images."""
    (images, labels, _), (held_images, held_labels), _ = split(train_set, recipe)
    model = model.to(device).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    curve = held_images[:recipe.curve_images].to(device), held_labels[:recipe.curve_images].to(device)
    history: list[dict] = []
    start = time.perf_counter()

    def check(step: int, generator: PerturbationGenerator) -> None:
        seconds = round(time.perf_counter() - start, 1)
        history.append({"step": step, "seconds": seconds, **(generator_strength(model, generator, *curve)
                                                              if recipe.curve_images else {})})
        if progress:
            print(f"{description} " + ", ".join(f"{k} {v}" for k, v in history[-1].items()), flush=True)
        if on_epoch_end is not None:
            on_epoch_end(step, history[-1])

    generator = train_generator(model, images, labels, c_l=recipe.c_l, steps=recipe.steps, lr=recipe.lr,
                                batch_size=recipe.batch_size, width=recipe.generator_width,
                                hidden=recipe.generator_hidden, seed=recipe.seed, device=device, every=recipe.every,
                                on_check=check)
    save_state(generator_path(path), generator.state_dict())
    save_state(Path(path), model.state_dict())
    return {
        "steps": recipe.steps, "seed": recipe.seed, "test_accuracy": as_percent(accuracy(model, test_set.images, test_set.labels)),
        "test_samples": len(test_set), "training_seconds": round(time.perf_counter() - start, 1), "history": history,
        "device": str(device), "advlab_version": advlab.__version__, "torch_version": torch.__version__,
        "sha256": sha256sum(path), "generator_sha256": sha256sum(generator_path(path)),
    }


def generator_strength(classifier: nn.Module, generator: PerturbationGenerator, images: Tensor, labels: Tensor) -> dict:
    """The generator as an attack on ``classifier``, in a learning curve's units (percent, rounded): accuracy under
    its perturbation and under noise, FGM and PGD of the same L2 norm image by image (``equal_l2_flags``), and
    the perturbation's mean L2 (chapter pgn: E1 and the PGN recipes' learning curves)."""
    flags = equal_l2_flags(classifier, generator, images, labels)
    return {**{f"{name}_accuracy": as_percent(flags[name].double().mean().item()) for name in ("generator", "noise", "fgm", "pgd")},
            "generator_mean_l2": round(flags["l2"].double().mean().item(), 4)}


@torch.no_grad()
def equal_l2_flags(classifier: nn.Module, generator: PerturbationGenerator, images: Tensor, labels: Tensor, *,
                   pgd_steps: int = 10, seed: int = 0) -> dict[str, Tensor]:
    """Per image, whether ``classifier`` stays correct under the generator's perturbation and under three
    others of the same L2 norm, image by image (E1, Fig. 3; chapter pgn): Gaussian noise rescaled to that norm
    (then clipped to [0, 1], which can only shorten it), FGM-L2 and PGD-L2 (``pgd_steps`` steps of
    2.5ε/steps from a random start) with ε = that norm. Returns bool tensors (on the CPU) under "generator",
    "noise", "fgm", "pgd" and the norms under "l2"; paired comparisons resample the same images.
    """
    classifier = classifier.eval()
    adv = pgn_perturb(classifier, generator.eval(), images, labels)
    l2 = (adv - images).flatten(1).norm(dim=1)
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(seed)).to(images)
    noisy = (images + noise * (l2 / noise.flatten(1).norm(dim=1).clamp_min(1e-12)).view(-1, *[1] * (images.ndim - 1))).clamp(0, 1)
    rng = torch.Generator(images.device).manual_seed(seed)
    perturbed = {"generator": adv, "noise": noisy, "fgm": fgm(classifier, images, labels, eps=l2, norm=2),
                 "pgd": pgd(classifier, images, labels, eps=l2, norm=2, steps=pgd_steps, generator=rng)}
    out = {name: (classifier(x).argmax(1) == labels).cpu() for name, x in perturbed.items()}
    out["l2"] = l2.cpu()
    return out


def penalized_objective(classifier: nn.Module, x: Tensor, x_adv: Tensor, y: Tensor, c_l: float) -> Tensor:
    """Per image, the inner objective of Eq. 4 (Eq. 8 without its constant): CE(F(x_adv), y) − c_L·‖x_adv − x‖₂²."""
    return F.cross_entropy(classifier(x_adv), y, reduction="none") - c_l * (x_adv - x).flatten(1).square().sum(1)


def inner_maximum(classifier: nn.Module, x: Tensor, y: Tensor, c_l: float, *, start: Tensor | None = None,
                  steps: int = 200, lr: float = 0.05) -> tuple[Tensor, Tensor]:
    """Eq. 4's inner max image by image, max over δ of ``penalized_objective``, by ``steps`` Adam steps on each
    image's tanh-space w (Eq. 5) from ``start`` (default w = 0, i.e. δ = 0), keeping each image's best iterate
    (chapter pgn, C11: how close the generator comes to δ*, and whether a trained classifier meets
    Loss ≤ c_L‖δ‖₂² + C). Returns (best objective per image, best x_adv); a local search, so a lower bound."""
    classifier = classifier.eval()
    base = torch.atanh(TANH_SHRINK * (2 * x - 1)).detach()
    w = (torch.zeros_like(x) if start is None else start.detach().clone()).requires_grad_(True)
    optimizer = torch.optim.Adam([w], lr=lr)
    best = torch.full((len(x),), -math.inf, device=x.device)
    best_adv = x.clone()
    with torch.enable_grad():
        for step in range(steps + 1):
            x_adv = (torch.tanh(base + w) + 1) / 2
            objective = penalized_objective(classifier, x, x_adv, y, c_l)
            improved = objective.detach() > best
            best = torch.where(improved, objective.detach(), best)
            best_adv = torch.where(improved.view(-1, *[1] * (x.ndim - 1)), x_adv.detach(), best_adv)
            if step == steps:  # the last iterate is evaluated, not stepped from
                break
            optimizer.zero_grad(set_to_none=True)
            (-objective.sum()).backward()
            optimizer.step()
    return best, best_adv
