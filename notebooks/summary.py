# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Reproduction summary
#
# Every chapter computes a verdict for each headline claim of its paper from the numbers it
# regenerates — "holds", "holds qualitatively" or "does not hold at this scale" — and saves them
# as `claims.csv` in its results folder. This page collects them, with the profile that made them.

# %% tags=["parameters"]
profile = "quick"  # the profile whose results are summarised
results_dir = None  # where this page's table is saved (the pipeline sets it)

# %%
import pandas as pd

from advlab.results import Results, results_dir as default_results_dir

results = Results(results_dir or default_results_dir("summary", profile))
claim_files = sorted(results.directory.parent.parent.glob(f"*/{profile}/claims.csv"))
if claim_files:
    claims = pd.concat([pd.read_csv(path).assign(chapter=path.parent.parent.name) for path in claim_files])
    display(results.table(claims, "claims"))
else:
    print(f"No chapter has saved claim verdicts for profile {profile!r} yet: the paper chapters "
          "(DDN, ANU, EAD, PGN, Convex) are being built and will appear here as they land.")
