"""Sphinx extension: serve MathJax 3 from the book itself, so math renders without network access.

The MathJax files come from the ``django-static-mathjax`` wheel (pinned in requirements.lock).
"""

from __future__ import annotations

import shutil
from pathlib import Path


def _mathjax_es5() -> Path:
    import mathjax  # provided by django-static-mathjax

    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def _copy_mathjax(app) -> None:
    if app.builder.format == "html":
        shutil.copytree(_mathjax_es5(), Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def setup(app):
    # A relative mathjax_path is resolved against the built site's _static folder.
    app.config.mathjax_path = "mathjax/tex-mml-chtml.js"
    app.connect("builder-inited", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
