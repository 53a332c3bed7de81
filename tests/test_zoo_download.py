"""Checkpoints too large for git: a manifest names the release file by URL; ``zoo.fetch`` / ``zoo.load`` download it
from a loopback HTTP server started here, verify it, cache it, and never keep a corrupted or truncated
download; a mirror's ``zoo/`` folder is the fallback; otherwise the error names the training command."""

from __future__ import annotations

import http.server
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from advlab import project_root, zoo

MODEL, RECIPE = "mnist-fcnn", "quick"  # the zoo's smallest checkpoint


class _Server:
    """A loopback HTTP server over ``folder`` counting its requests; ``truncate`` serves the declared length
    but only half of the bytes (a cut-off transfer)."""

    def __init__(self, folder: Path):
        self.requests, self.truncate = 0, False
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests += 1
                if not server.truncate:
                    return super().do_GET()
                data = (folder / self.path.lstrip("/")).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def release(tmp_path, monkeypatch):
    """A project home whose zoo holds only the manifest of MODEL, naming a release file served on loopback."""
    source = zoo.checkpoint_path(MODEL, RECIPE)
    home, served = tmp_path / "home", tmp_path / "served"
    (home / "data" / "zoo").mkdir(parents=True)
    served.mkdir()
    shutil.copy(source, served / source.name)
    fields = json.loads(source.with_suffix(".json").read_text())
    server = _Server(served)
    fields["url"] = f"{server.url}/{source.name}"
    monkeypatch.setenv("ADVLAB_HOME", str(home))
    monkeypatch.delenv("ADVLAB_DATA_MIRROR", raising=False)
    (home / "data" / "zoo" / source.with_suffix(".json").name).write_text(json.dumps(fields))
    yield server, served / source.name, zoo.checkpoint_path(MODEL, RECIPE)
    server.close()


def test_a_release_file_is_downloaded_verified_and_cached(release):
    server, served, local = release
    assert not local.exists()
    assert zoo.table().set_index(["model", "recipe"]).loc[(MODEL, RECIPE), "status"] == zoo.REMOTE
    model = zoo.load(MODEL, RECIPE)
    assert local.read_bytes() == served.read_bytes() and server.requests == 1
    zoo.load(MODEL, RECIPE)  # cached: no second request
    assert server.requests == 1
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    assert list(local.parent.glob("*.tmp")) == []


@pytest.mark.parametrize("damage", ["corrupted", "truncated"])
def test_a_corrupted_or_truncated_download_is_never_used(release, damage):
    server, served, local = release
    if damage == "corrupted":
        data = bytearray(served.read_bytes())
        data[len(data) // 2] ^= 0xFF
        served.write_bytes(bytes(data))
    else:
        server.truncate = True
    with pytest.raises(zoo.ZooError, match=f"{damage}.*advlab zoo train {MODEL} --recipe {RECIPE}"):
        zoo.load(MODEL, RECIPE)
    assert not local.exists() and list(local.parent.glob("*.tmp")) == []


def test_the_mirror_is_the_fallback_and_is_verified(release, tmp_path, monkeypatch):
    server, served, local = release
    server.close()  # the release host is unreachable
    mirror = tmp_path / "mirror" / "zoo"
    mirror.mkdir(parents=True)
    monkeypatch.setenv("ADVLAB_DATA_MIRROR", str(mirror.parent))
    with pytest.raises(zoo.ZooError, match="failed.*no mirror holds it|download of .* failed"):
        zoo.fetch(MODEL, RECIPE, progress=False)
    (mirror / served.name).write_bytes(b"not a checkpoint")
    with pytest.raises(zoo.ZooError, match="does not match the manifest"):
        zoo.fetch(MODEL, RECIPE, progress=False)
    assert not local.exists()
    shutil.copy(served, mirror / served.name)
    assert zoo.fetch(MODEL, RECIPE, progress=False) == local and local.read_bytes() == served.read_bytes()


def test_publish_names_the_url_and_the_cli_fetches(release):
    server, served, local = release
    done = subprocess.run([sys.executable, "-m", "advlab.cli", "zoo", "fetch", MODEL, "--recipe", RECIPE],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "sha256 verified" in done.stdout and local.exists()
    fields = zoo.publish(MODEL, RECIPE, "https://example.org/releases/v1/" + served.name)
    assert zoo.manifest(MODEL, RECIPE)["url"] == fields["url"]
    with pytest.raises(ValueError, match="http"):
        zoo.publish(MODEL, RECIPE, "ftp://example.org/x.pt")


def test_every_checkpoint_in_git_is_small_or_a_release_file():
    """Checkpoints above GIT_LIMIT_BYTES must be named by URL in their manifest (and stay out of git)."""
    for path in (project_root() / "data" / "zoo").glob("*.pt"):
        if path.stat().st_size > zoo.GIT_LIMIT_BYTES:
            assert json.loads(path.with_suffix(".json").read_text()).get("url"), path.name
