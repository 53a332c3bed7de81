"""DDN on the zoo's MNIST SmallCNN against the DDN paper's MNIST figure (chapter ddn)."""

from __future__ import annotations

import json
from functools import partial

from advlab import data, zoo
from advlab.attacks import ddn
from advlab.evaluate import run_attack, summarize

PAPER_MEDIAN_L2 = 1.4506   # DDN paper Table 1, MNIST, DDN 100 (ddn.json T1)
TOLERANCE = 0.10


def test_ddn_100_on_mnist_smallcnn_matches_the_paper():
    """DDN-100 on the first 100 MNIST test images: 100 % success and median L2 within ±10 % of 1.4506.

    Why ±10 %: (1) sampling — 100 images instead of the paper's 1000; the bootstrap standard error
    of the median of 100 DDN norms on this model is ≈ 0.056 (3.9 %), so two standard errors are
    ≈ 8 %; (2) the model — the zoo's quick recipe (Adam, 4 epochs, 99.2 %) is not the paper's network
    (99.44 %); two published trainings of this architecture give DDN-100 medians 1.4506 (DDN paper)
    and 1.4400 (ANU paper), 0.7 % apart, so a few percent more are allowed for a different recipe.
    Measured when written: median 1.479 (+2.0 %), mean 1.451 (paper 1.4563).
    """
    model = zoo.load("mnist-smallcnn")
    dataset = data.first_test_images("mnist", 100)
    result = run_attack(model, dataset.images, dataset.labels, partial(ddn, steps=100))
    summary = summarize(result)
    report = json.dumps({key: round(value, 4) for key, value in summary.items()})
    assert summary["success_rate"] == 1.0, report
    assert abs(summary["median_l2"] / PAPER_MEDIAN_L2 - 1) <= TOLERANCE, report
    attacked = ~result.already_adversarial
    assert (result.forwards[attacked] == 100).all() and (result.backwards[attacked] == 100).all()
