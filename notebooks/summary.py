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
# Every headline claim of every paper, with the verdict its chapter computed under one evidence
# standard ({doc}`../verdicts`): the value measured here with its 95 % interval and sample size, the
# rule written before the numbers were seen, and a link to the section that computed it. A claim
# this book cannot test offline (ImageNet) is listed as *not tested here*, with the reason.

# %% tags=["parameters"]
profile = "quick"  # the profile whose results are summarised
results_dir = None  # where this page's table is saved (the pipeline sets it)

# %% tags=["remove-input"]
import html
import json

import matplotlib.pyplot as plt
import pandas as pd
from docutils.nodes import make_id
from IPython.display import HTML, Markdown, display

from advlab.chapter.claims import COLUMNS, VERDICTS
from advlab.pipeline import notebook_names
from advlab.results import Results, results_dir as default_results_dir

COLOURS = {"holds": "#2e7d32", "holds qualitatively": "#8bc34a", "inconclusive at this scale": "#f9a825",
           "does not hold": "#c62828", "not tested here": "#9e9e9e"}
results = Results(results_dir or default_results_dir("summary", profile))
book_order = {name: i for i, name in enumerate(notebook_names())}
folders = sorted((p.parent for p in results.directory.parent.parent.glob(f"*/{profile}/claims.csv")
                  if p.parent.resolve() != results.directory.resolve()),
                 key=lambda folder: book_order.get(folder.parent.name, len(book_order)))
frames, runs = [], {}
for folder in folders:
    chapter = folder.parent.name
    frames.append(pd.read_csv(folder / "claims.csv", dtype={"n": "Int64", "samples_to_resolve": "Int64"}))
    run_file = folder / "run.json"
    runs[chapter] = json.loads(run_file.read_text()) if run_file.exists() else {}
claims = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
results.table(claims, "all_claims")
if claims.empty:
    display(Markdown(f"No chapter has saved claim verdicts for profile `{profile}` yet."))

# %% [markdown]
# ## Verdicts per chapter

# %% tags=["remove-input"]
if not claims.empty:
    counts = claims.groupby(["chapter", "verdict"]).size().unstack(fill_value=0).reindex(columns=list(VERDICTS),
                                                                                        fill_value=0)
    order = list(dict.fromkeys(claims["chapter"]))
    counts = counts.loc[order[::-1]]
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(counts) + 1.2))
    left = pd.Series(0, index=counts.index)
    for verdict in VERDICTS:
        bars = ax.barh([c.upper() for c in counts.index], counts[verdict], left=left, color=COLOURS[verdict],
                       label=verdict)
        ax.bar_label(bars, labels=[str(v) if v else "" for v in counts[verdict]], label_type="center",
                     color="white", fontsize=9)
        left += counts[verdict]
    ax.set_xlabel("headline claims")
    ax.legend(ncol=3, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(counts) < 3 else -0.2),
              frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    results.figure(fig, "verdicts_per_chapter")
    plt.show()
    scale = []
    for chapter in order:
        run = runs.get(chapter, {})
        scale.append(f"**{chapter.upper()}**: profile `{run.get('profile', profile)}`, "
                     f"{run.get('seconds', float('nan')) / 60:.1f} min on {run.get('hardware', 'unknown hardware')}")
    display(Markdown("Computed with: " + "; ".join(scale) + "."))

# %% [markdown]
# ## Every claim
#
# *Here* gives each measured quantity as value [95 % interval] (n = samples); *n* is the smallest
# sample behind the verdict. An inconclusive claim says how many samples would resolve it, from the
# spread measured here.

# %% tags=["remove-input", "full-width"]
def cell(text) -> str:
    return "" if pd.isna(text) else html.escape(str(text))


def claim_table(frame: pd.DataFrame, chapter: str) -> str:
    rows = []
    for r in frame.itertuples(index=False):
        link = f"{chapter}.html#{make_id(r.section)}" if isinstance(r.section, str) and r.section else None
        name = f'<a href="{link}">{cell(r.claim)}</a>' if link else cell(r.claim)
        verdict = (f'<span style="background:{COLOURS.get(r.verdict, "#777")};color:white;padding:1px 5px;'
                   f'border-radius:3px;display:inline-block">{cell(r.verdict)}</span>')
        notes = []
        if not pd.isna(r.samples_to_resolve):
            notes.append(f"resolved by about {int(r.samples_to_resolve):,} samples")
        if isinstance(r.caveat, str) and r.caveat:
            notes.append(cell(r.caveat))
        if notes:
            verdict += f'<br><small>{"; ".join(notes)}</small>'
        rule = f'<br><small><i>rule:</i> {cell(r.rule)}</small>' if isinstance(r.rule, str) and r.rule else ""
        parts = [cell(part) for part in str(r.here).split("; ")] if not pd.isna(r.here) else []
        here = "<br>".join(parts)
        if len(parts) > 4:  # a claim of many parts: the list folds away
            here = f"<details><summary>{len(parts)} measured parts</summary>{here}</details>"
        rows.append(f"<tr><td>{name}</td><td>{cell(r.statement)}{rule}</td><td>{cell(r.paper)}</td>"
                    f"<td><small>{here}</small></td><td>{'' if pd.isna(r.n) else int(r.n)}</td><td>{verdict}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("claim", "statement", "paper", "here", "n", "verdict"))
    widths = "".join(f'<col style="width:{w}%">' for w in (7, 27, 14, 32, 5, 15))
    return (f'<table class="table" style="font-size:0.85em;table-layout:fixed;width:100%">'
            f'<colgroup>{widths}</colgroup><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


for chapter, frame in claims.groupby("chapter", sort=False):
    display(HTML(f"<h3>{chapter.upper()}</h3>" + claim_table(frame, chapter)))
