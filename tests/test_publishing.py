"""Publishing the book: the GitHub Actions workflow validates against GitHub's workflow schema (check-jsonschema's
vendored copy, offline) and runs a Makefile target that exists; Binder's postBuild installs the pins with torch's
CPU build and writes every chapter's notebook where its launch button points; the repository URL is set once.

And the built book (smoke profile) in a real headless browser, page by page: the math is typeset (no raw ``$…$``
or ``\\(…\\)`` left in the text), every image loads, every internal link resolves (file and anchor), and the
page logs no console error. Debian's ``chromium`` (``.ci/run`` installs it when missing), driven through the
DevTools protocol; without it the test is skipped, unless ``ADVLAB_REQUIRE_BROWSER=1`` (CI) makes that a
failure. (This file runs after tests/test_pipeline.py, whose book build it reuses: running every chapter
first, in book order, would leave the first chapters' dataset fingerprints behind the cache the later ones fill.)"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

from advlab import pipeline, project_root

ROOT = project_root()
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def validate(path: Path) -> subprocess.CompletedProcess:
    checker = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True)


def test_the_workflow_validates_and_a_broken_one_does_not(tmp_path):
    done = validate(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = yaml.safe_load(WORKFLOW.read_text())
    del broken["jobs"]["build"]["runs-on"]
    broken["jobs"]["build"]["timeout-minutes"] = "four hours"
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken))
    assert validate(tmp_path / "broken.yml").returncode != 0


def test_the_workflow_builds_with_a_target_that_exists_and_deploys_the_html():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow["jobs"]["build"]["steps"]
    commands = [step["run"] for step in steps if "run" in step]
    assert commands == ["make book TORCH=cpu"]
    assert subprocess.run(["make", "-n", "book", "TORCH=cpu"], cwd=ROOT, capture_output=True).returncode == 0
    upload = next(step for step in steps if step.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    cached = next(step for step in steps if step.get("uses", "").startswith("actions/cache"))["with"]["path"]
    assert {"book/chapters", "book/results"} <= set(cached.split())
    assert workflow["jobs"]["deploy"]["steps"][0]["uses"].startswith("actions/deploy-pages")


def test_binder_installs_the_cpu_build_and_writes_every_chapter_where_its_launch_button_points():
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK) and "make binder" in post_build.read_text()
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    dry = subprocess.run(["make", "-n", "binder", "PYTHON=python"], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in dry.stdout
    assert "jupytext" in dry.stdout and "book/chapters/$(basename $notebook .py).ipynb" in dry.stdout
    toc = (ROOT / "_toc.yml").read_text()
    assert all(f"book/chapters/{name}" in toc for name in pipeline.notebook_names())


def test_the_repository_url_is_set_in_one_place():
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    holders = [name for name in tracked if (ROOT / name).is_file() and not name.endswith((".pt", ".png", ".gz"))
               and url in (ROOT / name).read_text(errors="ignore")]
    assert holders == ["_config.yml"]


BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")

# Run in the page after MathJax finished: raw math left in visible text, images that did not load, the links.
INSPECT = r"""
(() => {
  const skip = new Set(["SCRIPT", "STYLE", "CODE", "PRE", "TEXTAREA", "MJX-CONTAINER", "MJX-ASSISTIVE-MML"]);
  const raw = [];
  const walker = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    let parent = node.parentElement, hidden = false;
    for (let p = parent; p; p = p.parentElement) { if (skip.has(p.tagName) || p.classList.contains("highlight")) { hidden = true; break; } }
    if (!hidden && /\$[^$\s][^$]*\$|\\\(|\\\[/.test(node.textContent)) raw.push(node.textContent.trim().slice(0, 80));
  }
  const images = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src"));
  const links = [...document.querySelectorAll("a[href]")].map(a => a.href).filter(h => h.startsWith(location.origin));
  return JSON.stringify({raw, images, links, math: document.querySelectorAll("mjx-container").length});
})()
"""


class DevTools:
    """One headless Chromium page over the DevTools protocol (websocket-client)."""

    def __init__(self, profile: Path):
        import websocket

        self.process = subprocess.Popen(
            [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--no-first-run", "--disable-component-update", "--disable-sync", "--remote-debugging-port=0",
             "--allow-file-access-from-files", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port = None
        for line in self.process.stderr:
            match = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if match:
                port = match.group(1)
                break
        if port is None:
            raise RuntimeError("chromium did not open its DevTools port")
        pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        url = next(page["webSocketDebuggerUrl"] for page in pages if page["type"] == "page")
        self.socket = websocket.create_connection(url, timeout=60, suppress_origin=True)
        self.next_id, self.events = 0, []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(event)
            self.events.append(json.loads(self.socket.recv()))

    def evaluate(self, expression: str, await_promise: bool = False):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=await_promise, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def close(self) -> None:
        self.socket.close()
        self.process.kill()
        self.process.wait()


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(value for name, value in attrs if name in ("id", "name") and value)


def _anchors(path: Path, cache: dict) -> set[str]:
    if path not in cache:
        parser = _Ids()
        parser.feed(path.read_text(errors="ignore"))
        cache[path] = parser.ids
    return cache[path]


def _errors(events: list[dict]) -> list[str]:
    out = []
    for e in events:
        params = e.get("params", {})
        if e.get("method") == "Runtime.consoleAPICalled" and params.get("type") == "error":
            out.append(" ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])))
        elif e.get("method") == "Log.entryAdded" and params["entry"].get("level") == "error":
            out.append(f"{params['entry'].get('text')} ({params['entry'].get('url', '')})")
        elif e.get("method") == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            out.append(f"{details.get('exception', {}).get('description', details.get('text'))} "
                       f"({details.get('url', '')}:{details.get('lineNumber')})")
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if BROWSER is None:
        if os.environ.get("ADVLAB_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is missing (apt-get install chromium); ADVLAB_REQUIRE_BROWSER=1 requires it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    tools = DevTools(tmp_path_factory.mktemp("chromium"))
    yield tools
    tools.close()


@pytest.fixture(scope="module")
def served(smoke_book):
    """The built book on a loopback HTTP server, as a reader gets it from GitHub Pages."""
    html = smoke_book.html()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(html), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield html, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_every_page_typesets_its_math_loads_its_images_and_resolves_its_links(served, browser):
    html, base = served
    pages = sorted(p for p in html.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts)
    assert len(pages) >= 10
    problems, anchors, math_pages = [], {}, 0
    for page in pages:
        name = page.relative_to(html).as_posix()
        redirect = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', page.read_text(errors="ignore"))
        if redirect:  # the root index.html: its document is replaced at once, so it has nothing to inspect
            if not (page.parent / redirect.group(1)).is_file():
                problems.append(f"{name}: redirects to missing {redirect.group(1)}")
            continue
        browser.events.clear()
        browser.call("Page.navigate", url=base + name)
        browser.wait_for("Page.loadEventFired")
        browser.evaluate("window.MathJax && MathJax.startup ? MathJax.startup.promise.then(() => true) : true",
                         await_promise=True)
        found = json.loads(browser.evaluate(INSPECT))
        math_pages += found["math"] > 0
        problems += [f"{name}: raw math {text!r}" for text in found["raw"]]
        problems += [f"{name}: image {src} did not load" for src in found["images"]]
        for link in found["links"]:
            target = html / unquote(urlparse(link).path).lstrip("/")
            target = target / "index.html" if target.is_dir() else target
            fragment = unquote(urlparse(link).fragment)
            if not target.exists():
                problems.append(f"{name}: link to missing {target.relative_to(html) if html in target.parents else target}")
            elif fragment and target.suffix == ".html" and fragment not in _anchors(target, anchors):
                problems.append(f"{name}: link to missing anchor #{fragment} in {target.relative_to(html)}")
        problems += [f"{name}: console error {text}" for text in _errors(browser.events)]
    assert math_pages >= 6  # the chapters typeset their equations
    assert not problems, "\n".join(sorted(set(problems))[:40])
