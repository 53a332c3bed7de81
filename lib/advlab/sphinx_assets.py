"""Sphinx extension for the book's page assets: MathJax 3 served from the book itself, so math renders without
network access, and every script included once.

The MathJax files come from the ``django-static-mathjax`` wheel (pinned in requirements.lock). Under Jupyter
Book 1.0.4 the inline scripts of sphinx-thebe and sphinx-togglebutton reach every page twice, and the second
``const THEBE_JS_URL`` is a SyntaxError in the browser (tests/test_publishing.py): ``_unique_scripts`` drops
repeated scripts from each page's context.
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


def _unique_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts, seen = context.get("script_files"), set()
    if scripts is None:
        return
    unique = []
    for script in scripts:
        # the same inline script arrives once with filename None and once with '' (the registry's copy)
        key = (str(getattr(script, "filename", script) or ""), getattr(script, "priority", None),
               tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    # A relative mathjax_path is resolved against the built site's _static folder.
    app.config.mathjax_path = "mathjax/tex-mml-chtml.js"
    app.connect("builder-inited", _copy_mathjax)
    app.connect("html-page-context", _unique_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
