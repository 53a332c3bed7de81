"""Adversarial training with perturbation generator networks (PGN; ICLR 2020 submission; chapter pgn).

A generator G(∇ₓF, x, y; φ) learns to perturb the images on which the classifier F(x; θ) is trained,
the two playing the minimax game of Eq. 4 (Section 3.1):

    min_θ max_φ  E[ CE(F(x + G(·)), y; θ) − c_L·‖G(·)‖₂² ],

with the box constraint of Eq. 5 (tanh reparametrisation). ``train_pgn`` is the training loop of
the official code (the paper says only that the networks "are alternately trained") and a zoo
trainer (fit's signature). The paper's evaluation, the robustness-curve of Section 4.2 (Eq. 6), is
``advlab.evaluate.robustness_curve``. ``train_generator`` trains the generator alone against a frozen
classifier and ``equal_l2_flags`` compares it, image by image, with noise, FGM and PGD of the same L2
norm: whether the generator is an attack at all (E1, Fig. 3).

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
  output (a departure; see the chapter's 'Departures from the paper'); the classifier is trained
  on x_adv only (Table 1, "Adv Coefficient 1.0").
- One minimax step per minibatch: both gradients from the same forward pass, then one Adam step on
  θ and φ (the official code). The EMA (decay 0.998, Table 1) has no warm-up, as TensorFlow's
  without ``num_updates``.
"""

from __future__ import annotations

import copy
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
from advlab.training import as_percent, augment, save_state, split, training_state_path

__all__ = ["PGNRecipe", "PerturbationGenerator", "pgn_perturb", "pgn_step", "train_pgn", "generator_path",
           "train_generator", "equal_l2_flags", "TANH_SHRINK"]

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
    δ ≈ 0, so that short runs reach each c_L's own equilibrium. ``augment``, ``train_subset`` and
    ``holdout`` mean what they mean in ``Recipe``.
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
    by 4 (32 for CIFAR, 28 for MNIST). ``inputs`` names what the last layers see, of "gradient" (∇ₓF) and
    "image" (2x − 1): an omitted one is replaced by zeros, the architecture unchanged (the ablation of
    Fig. 8, E6).
    """

    def __init__(self, num_classes: int, channels: int = 3, image_size: int = 32, width: int = 128,
                 hidden: int = 1024, init_scale: float = 1.0, inputs: tuple[str, ...] = ("gradient", "image")):
        super().__init__()
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4, got {image_size}")
        if not set(inputs) <= {"gradient", "image"}:
            raise ValueError(f"inputs must be drawn from ('gradient', 'image'), got {inputs!r}")
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
        onehot = F.one_hot(y, self.num_classes).to(x.dtype)
        tiled = lambda t: torch.cat([t, onehot[:, :, None, None].expand(-1, -1, *t.shape[2:])], 1)  # noqa: E731
        h = act(self.dense1(onehot))
        h = act(self.dense2(torch.cat([h, onehot], 1))).view(-1, self.width, self.side, self.side)
        h = act(self.up1(tiled(h)))
        h = act(self.up2(tiled(h)))
        gradient = gradient if "gradient" in self.inputs else torch.zeros_like(gradient)
        image = 2 * x - 1 if "image" in self.inputs else torch.zeros_like(x)
        h = act(self.conv(torch.cat([h, gradient, image], 1)))
        return self.out(h)


def pgn_perturb(classifier: nn.Module, generator: PerturbationGenerator, x: Tensor, y: Tensor, *,
                create_graph: bool = False, batch_mean_gradient: bool = False) -> Tensor:
    """x_adv = ½(tanh(atanh(0.999999·(2x − 1)) + G(∇ₓF, x, y)) + 1) (Eq. 5), in [0, 1], shaped like x.

    ∇ₓF is the gradient of the true-class softmax probability F(x)_y (Section 3.1), per sample, or
    of the batch mean of those probabilities with ``batch_mean_gradient`` (the official code).
    ``create_graph`` keeps ∇ₓF differentiable in θ (double backprop, as the official code). The
    generator runs in the caller's grad mode; ∇ₓF is computed even under ``torch.no_grad()``.
    """
    with torch.enable_grad():
        x_in = x.detach().requires_grad_(True)
        probability = torch.softmax(classifier(x_in), 1).gather(1, y[:, None])
        objective = probability.mean() if batch_mean_gradient else probability.sum()
        gradient, = torch.autograd.grad(objective, x_in, create_graph=create_graph)
    w = generator(gradient, x, y)
    return (torch.tanh(torch.atanh(TANH_SHRINK * (2 * x - 1)) + w) + 1) / 2


def pgn_step(classifier: nn.Module, generator: PerturbationGenerator, optimizer: torch.optim.Optimizer,
             x: Tensor, y: Tensor, *, c_l: float, double_backprop: bool = False, batch_mean_gradient: bool = False,
             train_classifier: bool = True) -> dict[str, float]:
    """One minimax step of Eq. 4 (the official code's loop): from one forward pass, ∇_θ CE(F(x_adv), y) and
    ∇_φ [−CE(F(x_adv), y) + c_L·mean ‖δ‖₂²], then one ``optimizer`` step on both.

    With ``train_classifier=False`` only φ moves (θ gets no gradient). Returns the batch's
    classifier loss, generator loss and mean ‖δ‖₂.
    """
    classifier_params = [p for p in classifier.parameters() if p.requires_grad] if train_classifier else []
    generator_params = list(generator.parameters())
    second_order = double_backprop and train_classifier
    x_adv = pgn_perturb(classifier, generator, x, y, create_graph=second_order, batch_mean_gradient=batch_mean_gradient)
    squared = (x_adv - x).flatten(1).square().sum(1)
    adversarial_loss = F.cross_entropy(classifier(x_adv), y)
    # first order, ∇ₓF is a constant: the penalty does not depend on θ and one backward pass serves both
    objective = adversarial_loss if second_order else adversarial_loss - c_l * squared.mean()
    grads = torch.autograd.grad(objective, classifier_params + generator_params, retain_graph=second_order)
    classifier_grads, generator_grads = grads[:len(classifier_params)], grads[len(classifier_params):]
    if second_order:
        penalty_grads = torch.autograd.grad(squared.mean(), generator_params)
        generator_grads = [grad - c_l * penalty for grad, penalty in zip(generator_grads, penalty_grads)]
    optimizer.zero_grad(set_to_none=True)  # a parameter that gets no gradient here does not move
    for param, grad in zip(classifier_params, classifier_grads):
        param.grad = grad
    for param, grad in zip(generator_params, generator_grads):
        param.grad = -grad
    optimizer.step()
    ce = adversarial_loss.item()
    return {"loss": ce, "generator_loss": -ce + c_l * squared.mean().item(), "mean_l2": squared.sqrt().mean().item()}


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
    the mean classifier loss, mean generator loss, mean ‖δ‖₂ and seconds.
    """
    path = Path(path)
    (images, labels, _), (held_images, held_labels), batches = split(train_set, recipe)

    torch.manual_seed(recipe.seed)
    random = torch.Generator().manual_seed(recipe.seed)
    with torch.no_grad():
        num_classes = model.to(device).eval()(images[:1].to(device)).shape[1]
    model.train()
    generator = PerturbationGenerator(num_classes, images.shape[1], images.shape[-1], recipe.generator_width,
                                      init_scale=recipe.generator_init_scale).to(device)
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
                            double_backprop=recipe.double_backprop, batch_mean_gradient=recipe.batch_mean_gradient)
            _ema_update(ema_model, model, recipe.ema_decay)
            _ema_update(ema_generator, generator, recipe.ema_decay)
            totals = {key: total + step[key] for key, total in totals.items()}
            if b % 10 == 0:
                bar.set_postfix(loss=f"{step['loss']:.3f}", l2=f"{step['mean_l2']:.3f}")
        metrics = {"epoch": epoch + 1, **{key: round(total / batches, 4) for key, total in totals.items()},
                   "seconds": round(time.perf_counter() - start, 1)}
        if recipe.holdout:
            metrics["holdout_accuracy"] = as_percent(accuracy(ema_model, held_images, held_labels))
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



def train_generator(classifier: nn.Module, train_set, *, c_l: float, steps: int, lr: float = 5e-4, batch_size: int = 128,
                    width: int = 128, init_scale: float = 0.0, inputs: tuple[str, ...] = ("gradient", "image"),
                    seed: int = 0, device: str | torch.device = "cpu", every: int | None = None,
                    on_check: Callable[[int, PerturbationGenerator], None] | None = None) -> PerturbationGenerator:
    """The generator alone against a frozen ``classifier`` (eval mode, θ fixed): ``steps`` minibatches of
    ``pgn_step(..., train_classifier=False)``, i.e. Adam ascent on CE(F(x_adv), y) − c_L·‖δ‖₂² (Eq. 4's inner
    max; chapter pgn, E1: is the generator an attack at all?). Minibatches of the training set in a
    seeded random order; ``on_check(step, generator)`` after every ``every`` steps; ``inputs`` as the
    generator's (E6's ablation). Returns the generator.
    """
    classifier = classifier.to(device).eval()
    torch.manual_seed(seed)
    random = torch.Generator().manual_seed(seed)
    images, labels = train_set.images, train_set.labels
    with torch.no_grad():
        num_classes = classifier(images[:1].to(device)).shape[1]
    generator = PerturbationGenerator(num_classes, images.shape[1], images.shape[-1], width, init_scale=init_scale,
                                      inputs=inputs).to(device)
    optimizer = torch.optim.Adam(generator.parameters(), lr=lr)
    order = torch.randperm(len(images), generator=random)
    per_epoch = len(images) // batch_size
    for step in range(steps):
        if step and step % per_epoch == 0:
            order = torch.randperm(len(images), generator=random)
        index = order[(step % per_epoch) * batch_size:(step % per_epoch + 1) * batch_size]
        pgn_step(classifier, generator, optimizer, images[index].to(device), labels[index].to(device), c_l=c_l,
                 train_classifier=False)
        if every and on_check is not None and (step + 1) % every == 0:
            on_check(step + 1, generator)
    return generator.eval()


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
