"""Running attacks and summarising them as the papers do (chapters ddn, anu, ead, pgn, convex).

``run_attack`` calls an attack on the samples that still need attacking, counts the model's forward
and backward passes, times it, recomputes success from the model and measures L0/L1/L2/L∞ distances.
``summarize``, ``robust_accuracy``, ``best_distances``, ``optimality`` and ``optimality_of`` turn results into the
papers' numbers. Failures never get a finite distance: their distance is +∞ (see each function).
``accuracy`` and ``pgd_accuracy`` measure a model directly (the zoo's manifests);
``rho_cw`` and ``robustness_curve`` are the PGN paper's evaluation.

Units: every accuracy, success rate and robust accuracy here is a fraction in [0, 1]; only the zoo's
manifests store percentages (``advlab.training.as_percent``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from advlab.attacks import carlini_wagner_l2, pgd
from advlab.attacks._common import check_label_range, class_gradients, dual_norm, is_adversarial, lp_norms, validate

NORM_NAMES = {"l0": 0, "l1": 1, "l2": 2, "linf": math.inf}


@dataclass(frozen=True)
class AttackResult:
    """Per-sample outcome of ``run_attack``; every tensor has one entry per input sample (on the CPU)."""

    adv_inputs: Tensor
    success: Tensor               # bool: adversarial according to the model (recomputed, never taken from the attack)
    already_adversarial: Tensor   # bool: the clean input already met the criterion; not attacked, distance 0
    distances: dict[str, Tensor]  # "l0", "l1", "l2", "linf": ‖adv − x‖ (finite even for failures)
    forwards: Tensor              # model forward passes per sample (rows through the model / rows attacked)
    backwards: Tensor             # backward passes through the model's output per sample, counted the same way
    seconds: float                # wall time of the attack calls (CUDA synchronised on CUDA only)
    targeted: bool

    def adversarial_distance(self, norm: str = "l2") -> Tensor:
        """The distance of each sample's adversarial example, +∞ where the attack failed."""
        return torch.where(self.success, self.distances[norm], math.inf)


def run_attack(model: nn.Module, inputs: Tensor, labels: Tensor, attack: Callable[..., Tensor], *,
               targeted: bool = False, batch_size: int | None = None, box: bool = True) -> AttackResult:
    """Run ``attack(model, x, y, targeted=targeted)`` batch by batch and measure it (every chapter).

    Inputs are validated like an attack's (``AttackInputError``). Samples that already meet the
    criterion (untargeted: misclassified; targeted: classified as the target) are not attacked: they
    count as successes at distance 0, as the DDN paper's numbers do. Forward/backward counts come
    from hooks on ``model`` removed afterwards; a backward pass is one gradient reaching the model's
    output, so K class gradients (DeepFool) count K. Counts are per attacked sample of each batch.
    The attack's output must keep the input shape and stay in [0, 1] (ValueError otherwise; ``box=False``
    admits any finite output, for the convex paper's unclipped attacks).
    """
    inputs, labels = validate(model, inputs, labels)
    count = inputs.shape[0]
    batch_size = batch_size or count
    with torch.no_grad():
        already = torch.cat([is_adversarial(model(inputs[i:i + batch_size]), labels[i:i + batch_size], targeted)
                             for i in range(0, count, batch_size)])
    adv_inputs = inputs.clone()
    forwards = torch.zeros(count, dtype=torch.float64)
    backwards = torch.zeros(count, dtype=torch.float64)
    seconds = 0.0
    todo = (~already).nonzero().squeeze(1)
    for start in range(0, len(todo), batch_size):
        index = todo[start:start + batch_size]
        rows = {"forward": 0, "backward": 0}

        def count_backward(grad: Tensor) -> None:
            rows["backward"] += grad.shape[0]

        def count_forward(module: nn.Module, args: tuple, output: Tensor) -> None:
            rows["forward"] += output.shape[0]
            if output.requires_grad:
                output.register_hook(count_backward)

        handle = model.register_forward_hook(count_forward)
        try:
            _synchronize(inputs)
            begin = time.perf_counter()
            adv = attack(model, inputs[index], labels[index], targeted=targeted)
            _synchronize(inputs)
            seconds += time.perf_counter() - begin
        finally:
            handle.remove()
        if adv.shape != inputs[index].shape:
            raise ValueError(f"the attack returned shape {tuple(adv.shape)} for inputs of shape "
                             f"{tuple(inputs[index].shape)}")
        if not torch.isfinite(adv).all():
            raise ValueError("the attack returned NaN or Inf")
        if box and (adv.min() < 0 or adv.max() > 1):
            raise ValueError("the attack returned values outside [0, 1] (box=False admits them)")
        adv_inputs[index] = adv.detach()
        forwards[index.cpu()] = rows["forward"] / len(index)
        backwards[index.cpu()] = rows["backward"] / len(index)

    with torch.no_grad():
        success = torch.cat([is_adversarial(model(adv_inputs[i:i + batch_size]), labels[i:i + batch_size], targeted)
                             for i in range(0, count, batch_size)])
    delta = adv_inputs - inputs
    return AttackResult(adv_inputs=adv_inputs.cpu(), success=(success | already).cpu(),
                        already_adversarial=already.cpu(),
                        distances={name: lp_norms(delta, p).cpu() for name, p in NORM_NAMES.items()},
                        forwards=forwards, backwards=backwards, seconds=seconds, targeted=targeted)


def _synchronize(reference: Tensor) -> None:
    if reference.is_cuda:
        torch.cuda.synchronize(reference.device)


def summarize(result: AttackResult) -> dict[str, float]:
    """Success rate and, per norm, the mean over successes and the median over all samples (chapters ddn, anu, ead).

    As the papers report them: the mean distance is over successes only (DDN Table 1 "Mean L2", EAD's
    averages); the median is over all samples with failures counted as +∞ (the DDN paper counts
    them as a worst case), so it is +∞ when half the samples or more fail. Samples already
    adversarial count as successes at distance 0. Also the mean forward/backward counts and the time.
    """
    summary = {"success_rate": result.success.double().mean().item()}
    for name in NORM_NAMES:
        distance = result.adversarial_distance(name).double()
        successful = distance[result.success]
        summary[f"mean_{name}"] = successful.mean().item() if len(successful) else math.nan
        summary[f"median_{name}"] = distance.quantile(0.5, interpolation="lower").item()
    summary.update(forwards=result.forwards.mean().item(), backwards=result.backwards.mean().item(),
                   seconds=result.seconds)
    return summary


def robust_accuracy(result: AttackResult, eps: Sequence[float] | Tensor, norm: str = "l2") -> Tensor:
    """Accuracy under the attack as a function of the budget (DDN Fig. 4, PGN robustness curves; chapters ddn, pgn).

    For each ε, the fraction of samples with no adversarial example of norm ≤ ε (misclassified clean
    inputs are never robust); 1 − it is the convex paper's fooling ratio on correctly classified inputs.
    """
    if result.targeted:
        raise ValueError("robust accuracy is defined for untargeted attacks")
    distance = result.adversarial_distance(norm)
    eps = torch.as_tensor(eps, dtype=distance.dtype)
    return (distance[None, :] > eps[:, None]).double().mean(1)


def relative_perturbations(result: AttackResult, inputs: Tensor, norm: str = "linf") -> Tensor:
    """The terms of ρ̂₁ (DeepFool's robustness measure, convex paper Section III, Table I): ‖r̂(x)‖_p / ‖x‖_p
    per sample, NaN where the attack failed; ρ̂₁ is their mean over the successes, as the paper's code
    (p = ∞ there: ‖x‖∞ = max abs(x)) (chapter convex)."""
    p = NORM_NAMES[norm]
    ratio = result.distances[norm].double() / lp_norms(inputs.detach().cpu().double(), p)
    return torch.where(result.success & ~result.already_adversarial, ratio, torch.nan)


@torch.enable_grad()
def linearized_bounds(model: nn.Module, inputs: Tensor, labels: Tensor, norm: str = "linf",
                      batch_size: int | None = None) -> Tensor:
    """The terms of ρ̂₂ (convex paper, Proposition 1, Table I): min over l ≠ k of (f_k − f_l) / ‖∇f_k − ∇f_l‖_q
    on the logits at x (k = the label), per sample (on the CPU).

    Each ratio is Proposition 1's bound: no perturbation of smaller ℓp norm fools the classifier
    linearised in that pair. The minimum over l (not the ratio of the runner-up class alone) is the
    paper's code; ρ̂₂ is the mean. Negative for a misclassified sample. One forward and C backward
    passes per batch of ``batch_size`` (None: all at once) (chapter convex).
    """
    inputs, labels = validate(model, inputs, labels)
    q = dual_norm(NORM_NAMES[norm])
    size, out = batch_size or inputs.shape[0], []
    for i in range(0, inputs.shape[0], size):
        x, y = inputs[i:i + size].clone().requires_grad_(True), labels[i:i + size]
        logits = model(x)
        check_label_range(logits, y)
        classes = torch.arange(logits.shape[1], device=x.device).expand(x.shape[0], -1)
        grads = class_gradients(logits, x, classes).flatten(2)
        w = grads.gather(1, y[:, None, None].expand(-1, 1, grads.shape[2])) - grads
        margins = logits.detach().gather(1, y[:, None]) - logits.detach()
        ratios = margins / w.norm(p=q, dim=2).clamp_min(1e-30)
        out.append(ratios.scatter(1, y[:, None], math.inf).amin(1).detach().cpu())
    return torch.cat(out)


def fooling_threshold(distances, fraction: float = 0.99):
    """Table I's "fooled > 99 %" (convex paper): the smallest ε at which more than ``fraction`` of the samples
    have a distance below ε, i.e. the (⌊fraction·N⌋ + 1)-th smallest distance (+∞ if that many samples
    were not fooled). Along the last axis of an array (so a bootstrap can pass resamples) (chapter convex)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must lie in [0, 1), got {fraction}")
    distances = np.asarray(distances, dtype=np.float64)
    return np.sort(distances, axis=-1)[..., math.floor(fraction * distances.shape[-1])]


def best_distances(results: Sequence[AttackResult], norm: str = "l2") -> Tensor:
    """Per sample, the smallest distance over several attacks (+∞ if all failed): DDN Tables 5–6 "All" (chapter ddn)."""
    return torch.stack([result.adversarial_distance(norm) for result in results]).amin(0)


def optimality(result: AttackResult, best: Tensor, norm: str = "l2") -> float:
    """AttackBench's optimality of an attack against the per-sample best distances ``best``
    (``optimality_of`` on the attack's distances in ``norm``; chapter benchmark)."""
    distance = result.adversarial_distance(norm).double()
    if (distance < best.double()).any():
        raise ValueError("best must be a per-sample lower bound of the attack's distances "
                         "(include the attack in best_distances)")
    value = float(optimality_of(distance.numpy(), best.double().numpy()))
    if math.isnan(value):
        raise ValueError("optimality is undefined: every best distance is 0 or d_max")
    return value


def optimality_of(distance, best):
    """AttackBench's optimality of per-sample distances (+∞: failure) against the per-sample best of all
    attacks, along the last axis (so a bootstrap can pass resamples) (chapter benchmark).

    With d_max the largest finite best distance, A(d) = mean(min(d, d_max)) is the area under the
    robust-accuracy curve on [0, d_max] and c the fraction of samples with a nonzero best distance:
    optimality = 1 − (A(attack) − A(best)) / (c·d_max − A(best)), i.e. 1 when the attack matches the
    best everywhere and 0 when it never succeeds. The areas are exact (AttackBench integrates the
    plotted points with the trapezoidal rule); failures count as d_max. NaN where undefined (every
    best distance 0 or d_max, or none finite).
    """
    distance, best = np.asarray(distance, dtype=np.float64), np.asarray(best, dtype=np.float64)
    d_max = np.where(np.isfinite(best), best, -np.inf).max(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        area_best = np.minimum(best, d_max).mean(-1)
        area = np.minimum(distance, d_max).mean(-1)
        denominator = (best > 0).mean(-1) * d_max[..., 0] - area_best
        return np.where(denominator > 0, 1 - (area - area_best) / np.where(denominator > 0, denominator, 1), np.nan)


@torch.no_grad()
def accuracy(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 1000) -> float:
    """Top-1 accuracy of an eval-mode model on ``images``, a fraction in [0, 1] (batches on the model's device)."""
    device = next(model.parameters()).device
    correct = sum((model(images[i:i + batch_size].to(device)).argmax(1).cpu() == labels[i:i + batch_size]).sum().item()
                  for i in range(0, len(images), batch_size))
    return correct / len(images)


def pgd_accuracy(model: nn.Module, images: Tensor, labels: Tensor, eps: float, steps: int = 20,
                 batch_size: int = 500) -> float:
    """Accuracy, a fraction in [0, 1], under untargeted L2 PGD-``steps`` at ``eps`` (step 2.5ε/steps, no
    random start): the robust accuracy at a bound ε of DDN Tables 5–6, measured with one attack."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    device = next(model.parameters()).device
    adv = torch.cat([pgd(model, images[i:i + batch_size].to(device), labels[i:i + batch_size].to(device), eps=eps,
                         norm=2, steps=steps, step_size=2.5 * eps / steps, random_init=False).cpu()
                     for i in range(0, len(images), batch_size)])
    return accuracy(model, adv, labels, batch_size)


def _successful_l2(result: AttackResult, include_misclassified: bool) -> Tensor:
    """The L2 norms (float64) of the set D of Eq. 6 (PGN paper): the successful adversarial examples of ``result``,
    without the samples already adversarial before the attack unless ``include_misclassified``."""
    member = result.success if include_misclassified else result.success & ~result.already_adversarial
    return result.distances["l2"][member].double()


def rho_cw(result: AttackResult, include_misclassified: bool = True) -> float:
    """ρ of the PGN paper's Eq. 6: the mean L2 norm ‖Δx‖₂ over the successful adversarial examples D of
    ``result`` (ρ_cw for a C&W L2 attack; chapter pgn). NaN if D is empty.

    The samples already adversarial before the attack (clean-misclassified, for an untargeted attack)
    count in D at distance 0, as in the official evaluation (the paper does not say);
    ``include_misclassified=False`` leaves them out of D.
    """
    norms = _successful_l2(result, include_misclassified)
    return norms.mean().item() if len(norms) else math.nan


# The C&W L2 attack of the PGN paper's evaluation: 100 iterations (Table 1, "CW attack iter"); the rest
# are the defaults of CleverHans 3.0.1, which the official code uses.
PGN_CW = {"search_steps": 5, "steps": 100, "learning_rate": 5e-3, "initial_const": 1e-2, "kappa": 0.0,
          "abort_early": True}


def robustness_curve(models: Mapping[tuple[str, float], nn.Module], test_set, *, attack_kwargs: dict | None = None,
                     batch_size: int = 500, include_misclassified: bool = True,
                     parameter_names: Mapping[str, str] | None = None, progress: bool = False):
    """The points of the PGN paper's robustness-curves (Section 4.2, Eq. 6): benign accuracy and ρ_cw.

    ``models`` maps (method, trade-off value) — e.g. ("PGD-AT", 0.1) or ("PGN", 50.0) — to a model;
    each is put in eval mode and attacked with ``carlini_wagner_l2`` (``PGN_CW`` updated with
    ``attack_kwargs``) on every image of ``test_set`` through ``run_attack``. The column ``rho_cw`` is
    ``rho_cw`` (Eq. 6) with ``include_misclassified``, ``median_l2`` the median over the same set D.
    ``parameter`` is "c_L" for methods named in ``parameter_names`` (default {"PGN": "c_L"}) as such,
    else "eps". Accuracies and the success rate are fractions. Rows are sorted by method, then value
    (chapter pgn).
    """
    import pandas as pd

    kwargs = {**PGN_CW, **(attack_kwargs or {})}
    names = {"PGN": "c_L"} if parameter_names is None else parameter_names
    attack = lambda model, x, y, targeted: carlini_wagner_l2(model, x, y, targeted=targeted, **kwargs)  # noqa: E731
    rows = []
    for (method, value), model in tqdm(sorted(models.items(), key=lambda item: item[0]), disable=not progress,
                                       desc="robustness curve"):
        model.eval()
        device = next(model.parameters()).device
        result = run_attack(model, test_set.images.to(device), test_set.labels.to(device), attack,
                            batch_size=batch_size)
        norms = _successful_l2(result, include_misclassified)
        rows.append({"method": method, "parameter": names.get(method, "eps"), "value": value,
                     "benign_accuracy": 1 - result.already_adversarial.double().mean().item(),
                     "rho_cw": rho_cw(result, include_misclassified),
                     "median_l2": norms.quantile(0.5).item() if len(norms) else math.nan,
                     "success_rate": result.success.double().mean().item(), "n_images": len(test_set)})
    return pd.DataFrame(rows, columns=["method", "parameter", "value", "benign_accuracy", "rho_cw", "median_l2",
                                       "success_rate", "n_images"])
