"""The chapter kit: what every paper chapter needs besides the paper's own experiment.

- :mod:`~advlab.chapter.run`: ``start`` / ``Chapter`` (parameters, device, models by role, ``run.json``);
- :mod:`~advlab.chapter.samples`: which images are attacked (one rule; per class for EAD's example grids)
  and the targets of targeted runs;
- :mod:`~advlab.chapter.stats`: 95 % intervals (Wilson for rates, bootstrap for norms and ratios);
- :mod:`~advlab.chapter.claims`: verdicts on headline claims under one evidence standard;
- :mod:`~advlab.chapter.tables`: standard metric names, ``compare`` with the paper, ``show``;
- :mod:`~advlab.chapter.plots`: accuracy against ε, norm against iteration, distortion bars, example grids,
  EAD's shrinkage operator, metric sweeps and 10 × 10 target grids;
- :mod:`~advlab.chapter.experiments`: attack runs made once and reused, the C&W grid search, targeted
  and per-image ("All") summaries, accuracy at ε (chapter ddn, reused by anu); EAD's best / average /
  worst case, transfer and one run per decision rule (chapter ead);
- :mod:`~advlab.chapter.traces`: per-iteration traces from the attacks' ``callback``, convergence and
  γ statistics, same-conditions timing (chapter anu);
- :mod:`~advlab.chapter.scale`: the chapter's committed runs at other profiles (the GPU profile), shown
  beside this build's, each table captioned with the profile and hardware that made it.

The book's page "How to read the verdicts" states the standard these implement.
"""

from advlab.chapter import claims, experiments, plots, samples, scale, stats, tables, traces
from advlab.chapter.claims import Claims, Effect, Equivalent, Part, Threshold, Unmeasured
from advlab.chapter.run import PAPER_DATASET, Chapter, start
from advlab.chapter.samples import TooFewImages, attack_set, targeted
from advlab.chapter.tables import attack_metrics, compare, row, show

__all__ = ["claims", "experiments", "plots", "traces", "samples", "scale", "stats", "tables", "Claims", "Effect", "Equivalent", "Part", "Threshold",
           "Unmeasured", "PAPER_DATASET", "Chapter", "start", "TooFewImages", "attack_set", "targeted",
           "attack_metrics", "compare", "row", "show"]
