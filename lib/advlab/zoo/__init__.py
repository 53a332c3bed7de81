"""The model zoo: every network the chapters use, with verified checkpoints in ``data/zoo/``.

``load(name)`` returns an eval-mode model (``load_generator`` a PGN model's generator) whose weights match the sha256 in their manifest
(``data/zoo/<name>.<recipe>.json``, read by ``manifest``); ``train(name)`` trains one from its
recipe and writes checkpoint and manifest atomically; ``evaluate`` adds its robust accuracy;
``table`` lists every model and its status; ``fetch`` / ``publish`` handle checkpoints too large for git
(release files named by URL in the manifest). ``advlab zoo list|train|evaluate|fetch|publish`` wrap them.

Modules: ``catalog`` (the models, their recipes and the papers' constants), ``store`` (files,
hashes, loading), ``build`` (training and evaluation), ``architectures``; the training loop itself
is ``advlab.training``.
"""

from advlab.training import Adversarial, Recipe
from advlab.zoo.build import evaluate, train
from advlab.zoo.catalog import (ANU_GAMMA, DISTILLATION_TEMPERATURES, ENTRIES, PGN_ABLATIONS, PGN_MNIST, PGN_SWEEPS,
                                RETRAINED_SEEDS, RETRAINED_VARIANTS,
                                ROBUST_EPS, ZooEntry)
from advlab.zoo.store import (GIT_LIMIT_BYTES, REMOTE, ZooError, checkpoint_path, fetch, load, load_generator, manifest,
                               publish, table, zoo_dir)

__all__ = ["load", "load_generator", "fetch", "publish", "train", "evaluate", "table", "manifest", "checkpoint_path", "zoo_dir",
           "ZooError", "ZooEntry", "GIT_LIMIT_BYTES", "REMOTE",
           "ENTRIES", "Recipe", "Adversarial", "ANU_GAMMA", "ROBUST_EPS", "DISTILLATION_TEMPERATURES", "PGN_SWEEPS",
           "PGN_MNIST", "PGN_ABLATIONS", "RETRAINED_VARIANTS", "RETRAINED_SEEDS"]
