"""Verdicts on the papers' headline claims under one evidence standard (book page "How to read the verdicts").

A claim is judged from one or more measured :class:`~advlab.chapter.stats.Estimate` s, each with a
rule written before the numbers are seen:

- :class:`Effect` — "A is smaller/larger than B" (optionally "by about the paper's amount");
- :class:`Threshold` — "at least / at most t" (e.g. "within 5 % of C&W", "≥ 100× fewer gradients");
- :class:`Equivalent` — "comparable": the effect lies within ± margin (a two-sided equivalence test).

Five outcomes: *holds*, *holds qualitatively* (the direction holds, the size does not), *inconclusive
at this scale* (the interval contains both the claimed effect and its absence), *does not hold*
(the interval excludes the claimed effect) and *not tested here* (with the reason). A claim made of
several parts takes the weakest part's verdict. An inconclusive claim states how many samples would
resolve it, from the measured spread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

import pandas as pd

from advlab.chapter.stats import Estimate, samples_to_resolve

HOLDS = "holds"
QUALITATIVE = "holds qualitatively"
INCONCLUSIVE = "inconclusive at this scale"
DOES_NOT_HOLD = "does not hold"
NOT_TESTED = "not tested here"
MIN_BOOTSTRAP_SAMPLES = 5  # below this many images a bootstrap interval is not a 95 % interval
VERDICTS = (HOLDS, QUALITATIVE, INCONCLUSIVE, DOES_NOT_HOLD, NOT_TESTED)
_WEAKNESS = {HOLDS: 0, QUALITATIVE: 1, INCONCLUSIVE: 2, DOES_NOT_HOLD: 3}
COLUMNS = ["chapter", "claim", "statement", "paper", "rule", "here", "n", "verdict", "caveat", "samples_to_resolve",
           "section", "profile"]


class Unmeasured(Exception):
    """A number a claim needs was not measured in this run (a model not trained, every attack failed)."""


def _pct(x: float, percent: bool | str) -> str:
    """A rule's number: a fraction as "+1.0 %" (``percent=True``) or "+1.0 pp" (``percent="pp"``)."""
    if percent:
        return f"{100 * x:+.1f} {'pp' if percent == 'pp' else '%'}"
    return f"{x:g}"


@dataclass(frozen=True)
class Effect:
    """The claim "the quantity lies on the ``side`` of ``null``" (e.g. A − B < 0), with the paper's size.

    ``side`` is "below" or "above". ``claimed`` is the paper's effect size (on the same scale) or
    None for a pure ordering. Holds: the interval excludes ``null`` on the claimed side and does not
    exclude ``claimed``. Qualitatively: it excludes ``null`` on the claimed side but also ``claimed``
    (the effect is smaller than the paper's). Does not hold: it excludes ``claimed`` (or, for an
    ordering, lies on the other side of ``null``) without showing the direction. Else inconclusive.
    """

    side: str
    null: float = 0.0
    claimed: float | None = None
    percent: bool | str = True  # describe values as percentages (relative differences) or "pp"

    def __post_init__(self):
        if self.side not in ("below", "above"):
            raise ValueError(f"side must be 'below' or 'above', got {self.side!r}")
        if self.claimed is not None and (self.claimed - self.null) * (1 if self.side == "above" else -1) < 0:
            raise ValueError(f"the claimed effect {self.claimed} is not {self.side} the null {self.null}")

    def judge(self, e: Estimate) -> tuple[str, list[float]]:
        sign = 1 if self.side == "above" else -1
        low, high = sorted((sign * e.low, sign * e.high))
        null = sign * self.null
        claimed = null if self.claimed is None else sign * self.claimed
        if low > null:
            return (HOLDS if high >= claimed else QUALITATIVE), [null, claimed]
        if high < claimed or (claimed == null and high <= null):
            return DOES_NOT_HOLD, [null, claimed]
        return INCONCLUSIVE, [null, claimed]

    def describe(self, generic: bool = False) -> str:
        """The rule in words; ``generic``: "the paper's size" instead of its value (for claims of many parts)."""
        side = f"{self.side} {_pct(self.null, self.percent)}"
        if self.claimed is None:
            return f"interval {side}"
        size = "size" if generic else _pct(self.claimed, self.percent)
        return f"interval {side} and not excluding the paper's {size}; qualitatively: {side} only"


@dataclass(frozen=True)
class Threshold:
    """The claim "the quantity is at least / at most ``bound``" (e.g. "within 5 %": at most +0.05).

    Holds: the whole interval is on the claimed side. Does not hold: the whole interval is on the
    other side; if it is still on the claimed side of ``qualitative`` (a weaker bound, e.g. "more
    gradients at all" for "100× more") the claim holds qualitatively. Else inconclusive.
    """

    side: str  # "at least" | "at most"
    bound: float
    qualitative: float | None = None
    percent: bool | str = False

    def __post_init__(self):
        if self.side not in ("at least", "at most"):
            raise ValueError(f"side must be 'at least' or 'at most', got {self.side!r}")

    def judge(self, e: Estimate) -> tuple[str, list[float]]:
        sign = 1 if self.side == "at least" else -1
        low, high = sorted((sign * e.low, sign * e.high))
        bound = sign * self.bound
        if low >= bound:
            return HOLDS, [self.bound]
        if high < bound:
            weak = self.qualitative is not None and low > sign * self.qualitative
            return (QUALITATIVE if weak else DOES_NOT_HOLD), [self.bound]
        return INCONCLUSIVE, [self.bound]

    def describe(self) -> str:
        text = f"whole interval {'≥' if self.side == 'at least' else '≤'} {_pct(self.bound, self.percent)}"
        if self.qualitative is not None:
            text += f"; qualitatively: {'>' if self.side == 'at least' else '<'} {_pct(self.qualitative, self.percent)}"
        return text


@dataclass(frozen=True)
class Equivalent:
    """The claim "comparable": the quantity lies within ``centre`` ± ``margin`` (two one-sided tests at 95 %).

    Holds: the interval lies inside the margin. Does not hold: it lies wholly outside. Else
    inconclusive. The margin is part of the rule and written next to the verdict.
    """

    margin: float
    centre: float = 0.0
    percent: bool | str = True

    def judge(self, e: Estimate) -> tuple[str, list[float]]:
        lower, upper = self.centre - self.margin, self.centre + self.margin
        if lower <= e.low and e.high <= upper:
            return HOLDS, [lower, upper]
        if e.high < lower or e.low > upper:
            return DOES_NOT_HOLD, [lower, upper]
        return INCONCLUSIVE, [lower, upper]

    def describe(self) -> str:
        margin = _pct(self.margin, self.percent).lstrip("+")
        centre = _pct(self.centre, self.percent) + " " if self.centre else ""
        return f"whole interval within {centre}± {margin} (equivalence)"


Rule = Effect | Threshold | Equivalent


@dataclass(frozen=True)
class Part:
    """One measured quantity of a claim: its label, estimate, rule and how to print the value."""

    label: str
    estimate: Estimate
    rule: Rule
    digits: int = 3
    scale: float = 1.0
    unit: str = ""
    bound: str | None = None  # "lower" / "upper": the measurement only bounds the claimed quantity

    def verdict(self) -> tuple[str, list[float]]:
        """The rule's verdict. With ``bound`` (a truncated reference run or search, so the claimed
        quantity is only known to be ≥ — "lower" — or ≤ — "upper" — the measured one, or "both"),
        the interval is opened on that side: only conclusions the truncation cannot have produced stand."""
        e = self.estimate
        if not (math.isfinite(e.low) and math.isfinite(e.high)) or self.too_few():
            return INCONCLUSIVE, []
        if self.bound not in (None, "lower", "upper", "both"):
            raise ValueError(f"bound must be None, 'lower', 'upper' or 'both', got {self.bound!r}")
        if self.bound:
            low = -math.inf if self.bound in ("upper", "both") else e.low
            high = math.inf if self.bound in ("lower", "both") else e.high
            return self.rule.judge(Estimate(e.value, low, high, e.n, e.method))[0], []
        return self.rule.judge(e)

    def too_few(self) -> bool:
        """A bootstrap over fewer than ``MIN_BOOTSTRAP_SAMPLES`` samples (images) has too few distinct
        resamples for a 95 % interval: its part is inconclusive whatever the interval says."""
        return "bootstrap" in self.estimate.method and self.estimate.n < MIN_BOOTSTRAP_SAMPLES

    def text(self) -> str:
        bound = {"lower": ", a lower bound", "upper": ", an upper bound", "both": ", biased both ways"}.get(self.bound, "")
        return f"{self.label}: {self.estimate.format(self.digits, self.scale, self.unit)} (n = {self.estimate.n}{bound})"


def _rule_text(parts: list[Part]) -> str:
    """Each distinct rule once, with the number of parts it judges (the paper's sizes as a range)."""
    groups: dict[str, list[Part]] = {}
    for part in parts:
        rule = part.rule
        groups.setdefault(rule.describe(True) if isinstance(rule, Effect) else rule.describe(), []).append(part)
    texts = []
    for text, group in groups.items():
        sizes = sorted({p.rule.claimed for p in group if isinstance(p.rule, Effect) and p.rule.claimed is not None})
        if len(sizes) == 1:
            text = group[0].rule.describe()
        elif sizes:
            text += f" (paper: {_pct(sizes[0], group[0].rule.percent)} … {_pct(sizes[-1], group[0].rule.percent)})"
        texts.append(text if len(parts) == 1 else f"{len(group)} of {len(parts)} parts: {text}")
    return "; ".join(texts)


def combine(verdicts: Iterable[str]) -> str:
    """A claim that needs all its parts takes its weakest part's verdict."""
    return max(verdicts, key=_WEAKNESS.__getitem__)


@dataclass
class Claims:
    """A chapter's claims: ``judge`` computes a verdict from parts, ``not_tested`` records why not.

    ``table()`` gives the rows of ``claims.csv`` (columns :data:`COLUMNS`), which the summary page
    collects from every chapter.
    """

    chapter: str
    profile: str
    rows: list[dict] = field(default_factory=list)

    def _add(self, **row) -> dict:
        if any(r["claim"] == row["claim"] for r in self.rows):
            raise ValueError(f"claim {row['claim']} was already judged")
        row = {"chapter": self.chapter, "profile": self.profile, **row}
        self.rows.append(row)
        return row

    def judge(self, claim: str, statement: str, paper: str, parts: list[Part] | Callable[[], list[Part]], *,
              section: str, caveat: str = "") -> dict:
        """Judge ``claim`` from its ``parts`` (or a function returning them; if it raises
        :class:`Unmeasured` the claim is recorded as not tested here, with the reason)."""
        if callable(parts):
            try:
                parts = parts()
            except Unmeasured as reason:
                return self.not_tested(claim, statement, paper, str(reason), section=section)
        if not parts:
            raise ValueError(f"claim {claim} has no measured part")
        judged = [part.verdict() for part in parts]
        verdict = combine(v for v, _ in judged)
        needed = [MIN_BOOTSTRAP_SAMPLES if p.too_few() else samples_to_resolve(p.estimate, b)
                  for p, (v, b) in zip(parts, judged) if v == INCONCLUSIVE]
        needed = [n for n in needed if n is not None]
        return self._add(claim=claim, statement=statement, paper=paper,
                         rule=_rule_text(parts),
                         here="; ".join(p.text() for p in parts), n=min(p.estimate.n for p in parts),
                         verdict=verdict, caveat=caveat,
                         samples_to_resolve=max(needed) if verdict == INCONCLUSIVE and needed else None,
                         section=section)

    def judge_each(self, claim: str, statement: str, paper: str, groups: dict[str, object],
                   make: Callable[[object], list[Part]], *, section: str, caveat: str = "") -> dict:
        """Judge ``claim`` on the parts ``make(key)`` of every group (``groups``: label → key, e.g. each
        dataset): a group whose ``make`` raises :class:`Unmeasured` is named with the reason in the
        caveat; if none is measured the claim is not tested here, with the reasons."""
        parts, absent = [], []
        for label, key in groups.items():
            try:
                parts += make(key)
            except Unmeasured as reason:
                absent.append(f"{label} not tested: {reason}")
        if not parts:
            return self.not_tested(claim, statement, paper, "; ".join(absent) or "nothing measured", section=section)
        return self.judge(claim, statement, paper, parts, section=section, caveat="; ".join(filter(None, [caveat, *absent])))

    def not_tested(self, claim: str, statement: str, paper: str, reason: str, *, section: str = "") -> dict:
        """Record a claim this book cannot test (e.g. no ImageNet offline), with the reason."""
        return self._add(claim=claim, statement=statement, paper=paper, rule="", here=reason, n=None,
                         verdict=NOT_TESTED, caveat="", samples_to_resolve=None, section=section)

    def table(self) -> pd.DataFrame:
        """The claims in their papers' order (C1, C2, …, C10), whatever order they were judged in."""
        def order(row: dict) -> tuple:
            prefix, _, number = row["claim"].rpartition("C")
            return (prefix, int(number)) if number.isdigit() else (row["claim"], 0)
        frame = pd.DataFrame(sorted(self.rows, key=order), columns=COLUMNS)
        frame["n"] = frame["n"].astype("Int64")
        frame["samples_to_resolve"] = frame["samples_to_resolve"].astype("Int64")
        return frame

    def counts(self) -> dict[str, int]:
        return {v: sum(r["verdict"] == v for r in self.rows) for v in VERDICTS}
