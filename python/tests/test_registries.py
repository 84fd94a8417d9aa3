"""Registry items (shadcn registry-item JSON) through Python, served by a real
local HTTP server (http.server) from the fixture registry in
examples/shadcn-registry: add by registry name and by URL, update, diff."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import dxforge
from conftest import REPO

FIXTURE = REPO / "examples" / "shadcn-registry"


@pytest.fixture
def server() -> Iterator[str]:
    """The fixture registry over HTTP; yields its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(FIXTURE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_add_update_diff_items_by_registry_name_and_url(project: Path, server: str) -> None:
    (project / "dxforge.toml").write_text(f'[registries]\n"@demo" = "{server}/r/{{name}}.json"\n')
    with dxforge.DxForge(project) as forge:
        report = forge.install_package("@demo/card")
        names = sorted(p["name"] for p in report["packages"])
        assert names == ["@demo/button", "@demo/card", "@demo/utils"]
        card = (project / "components/ui/card.tsx").read_text()
        assert 'from "@/components/ui/button"' in card
        assert '"@demo/card" = "*"' in (project / "dxforge.toml").read_text()

        forge.install_package(f"{server}/r/use-toggle.json")
        cached = forge.update("@demo/card", dry_run=True, offline=True)
        assert all(item["from_cache"] for item in cached["items"])
        assert b"\r\n" in (project / "hooks/use-toggle.ts").read_bytes()

        utils = project / "lib/utils.ts"
        utils.write_text(utils.read_text() + "// mine\n")
        plan = forge.diff("@demo/utils")
        assert plan["dry_run"] is True
        updated = forge.update("@demo/utils")
        assert [f["light"] for f in updated["files"]] == ["yellow"]
        assert utils.read_text().endswith("// mine\n")

        with pytest.raises(dxforge.DxForgeError, match="/r/missing.json"):
            forge.install_package("@demo/missing")
