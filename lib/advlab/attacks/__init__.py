"""The attack library: pure batched functions ``attack(model, inputs, labels, *, targeted=False, **hyper)``.

Each returns ``adv_inputs`` of the inputs' shape and dtype. Inputs are in [0, 1], the model returns
logits, ``labels`` are the targets when ``targeted=True``. Every attack keeps all state per sample,
never modifies its inputs, computes its gradients even under ``torch.no_grad()``, and validates its
arguments: ``AttackInputError`` (a ValueError) for inputs outside [0, 1], NaN/Inf, non-float inputs,
mismatched or out-of-range labels, an empty batch, and a model in training mode (call ``model.eval()``).
Iteration budgets are always ``steps`` (``search_steps`` for the rounds of a binary search on the
C&W / EAD constant); the margin of C&W and EAD is ``kappa``. ``callback`` (``ddn``, ``anu``,
``carlini_wagner_l2``, ``elastic_net_cov``, ``ead``, ``ead_rules``) receives the per-sample state
(``NormUpdateStep``, ``SearchRound``) without changing the result.
Chapters: ddn (``ddn``, ``carlini_wagner_l2``, ``deepfool``), anu (``anu``),
ead (``ead``, ``ead_rules``, ``elastic_net_cov``, ``fgm``, ``ifgm``, ``min_eps_search``),
convex (``gnii_perturbation``, ``linearized_boundary_step``, ``alg1``, ``alg1_n``, ``alg2``, ``random_sign``, ``fgm``,
``pgd``, ``deepfool``; ``clip=False`` drops the [0, 1] box, as the convex paper's code),
pgn (``pgd``, ``fgm``, ``mim``).
"""

from advlab.attacks._common import AttackInputError, SearchRound, linearized_boundary_step, quantize
from advlab.attacks.carlini_wagner import carlini_wagner_l2, elastic_net_cov
from advlab.attacks.convex import alg1, alg1_n, alg2, gnii_perturbation, random_sign
from advlab.attacks.ddn import NormUpdateStep, anu, ddn
from advlab.attacks.deepfool import deepfool
from advlab.attacks.ead import ead, ead_rules
from advlab.attacks.fast_gradient import fgm, ifgm, mim, min_eps_search, pgd

__all__ = [
    "AttackInputError", "quantize", "NormUpdateStep", "SearchRound",
    "ddn", "anu", "carlini_wagner_l2", "elastic_net_cov", "ead", "ead_rules", "fgm", "ifgm", "pgd", "mim",
    "min_eps_search", "deepfool",
    "gnii_perturbation", "linearized_boundary_step", "alg1", "alg1_n", "alg2", "random_sign",
]
