"""Running attacks and summarising them as the papers do (chapters ddn, anu, ead, pgn, convex).

``run_attack`` calls an attack on the samples that still need attacking, counts the model's forward
and backward passes, times it, recomputes success from the model and measures L0/L1/L2/L∞ distances.
``summarize``, ``robust_accuracy``, ``best_distances`` and ``optimality`` turn results into the
papers' numbers. Failures never get a finite distance: their distance is +∞ (see each function).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from advlab.attacks._common import is_adversarial, lp_norms, validate

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
               targeted: bool = False, batch_size: int | None = None) -> AttackResult:
    """Run ``attack(model, x, y, targeted=targeted)`` batch by batch and measure it (every chapter).

    Inputs are validated like an attack's (``AttackInputError``). Samples that already meet the
    criterion (untargeted: misclassified; targeted: classified as the target) are not attacked: they
    count as successes at distance 0, as the DDN paper's numbers do. Forward/backward counts come
    from hooks on ``model`` removed afterwards; a backward pass is one gradient reaching the model's
    output, so K class gradients (DeepFool) count K. Counts are per attacked sample of each batch.
    The attack's output must keep the input shape and stay in [0, 1] (ValueError otherwise).
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
        if adv.min() < 0 or adv.max() > 1 or not torch.isfinite(adv).all():
            raise ValueError("the attack returned values outside [0, 1]")
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


def best_distances(results: Sequence[AttackResult], norm: str = "l2") -> Tensor:
    """Per sample, the smallest distance over several attacks (+∞ if all failed): DDN Tables 5–6 "All" (chapter ddn)."""
    return torch.stack([result.adversarial_distance(norm) for result in results]).amin(0)


def optimality(result: AttackResult, best: Tensor, norm: str = "l2") -> float:
    """AttackBench's optimality of an attack against the per-sample best distances ``best`` (chapters ddn, anu).

    With d_max the largest finite best distance, A(d) = mean(min(d, d_max)) is the area under the
    robust-accuracy curve on [0, d_max] and c the fraction of samples with a nonzero best distance:
    optimality = 1 − (A(attack) − A(best)) / (c·d_max − A(best)), i.e. 1 when the attack matches the
    best everywhere and 0 when it never succeeds. The areas are exact (AttackBench integrates the
    plotted points with the trapezoidal rule); failures count as d_max.
    """
    distance = result.adversarial_distance(norm).double()
    best = best.double()
    if (distance < best).any():
        raise ValueError("best must be a per-sample lower bound of the attack's distances "
                         "(include the attack in best_distances)")
    d_max = best[torch.isfinite(best)].max()
    area_best = best.clamp(max=d_max).mean()
    area = distance.clamp(max=d_max).mean()
    denominator = (best > 0).double().mean() * d_max - area_best
    if denominator <= 0:
        raise ValueError("optimality is undefined: every best distance is 0 or d_max")
    return (1 - (area - area_best) / denominator).item()
