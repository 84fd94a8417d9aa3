"""Traffic Branching and the Shadow Worker from Python.

In a throwaway project using the example registry (examples/registry):
installs button 1.0.0, edits its file, checks the light of an upgrade, plans
the upgrade (dry run), applies it (a conflicting edit ends Red: the file is
kept and button.tsx.new holds upstream), then snapshots the tree in the
background and rolls an accidental deletion back.

Run: python examples/python/packages.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import dxforge

REGISTRY = Path(__file__).resolve().parents[1] / "registry"
BUTTON = "components/ui/button.tsx"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "dxforge.toml").write_text(f'[project]\nname = "shop"\n\n[registry]\npath = "{REGISTRY}"\n')
        with dxforge.DxForge(root) as forge:
            forge.install_package("button", "=1.0.0")
            print("installed button 1.0.0:", sorted(str(p.relative_to(root)) for p in root.rglob("*.ts*")))

            (root / BUTTON).write_text("// my very own button\n")
            upstream = (REGISTRY / "button" / "1.3.0" / "files" / BUTTON).read_bytes()
            print("light of upgrading my edited button.tsx:", forge.analyze_traffic_safety(BUTTON, upstream))

            plan = forge.install_package("button", "^1", dry_run=True)
            print("plan (nothing written):")
            for f in plan["files"]:
                print(f"  {f['light'].upper():<6} {f['action']:<9} {f['path']}  ({f['reason']})")

            forge.install_package("button", "^1")
            print("after the upgrade my file is kept:", (root / BUTTON).read_text().strip())
            print("upstream waits in:", BUTTON + ".new", (root / (BUTTON + ".new")).exists())

            task = forge.enqueue(dxforge.BackgroundTask.cache_current_state())
            state = forge.wait(task, timeout=60)
            assert state["state"] == "succeeded"
            snapshot_id = state["detail"]["id"]  # type: ignore[typeddict-item]
            print("background snapshot:", snapshot_id)

            (root / "lib" / "utils.ts").unlink()
            report = forge.restore(snapshot_id)
            print(f"restored {report['restored']}: utils.ts back = {(root / 'lib' / 'utils.ts').exists()}")
            print("counters:", forge.counters())


if __name__ == "__main__":
    main()
