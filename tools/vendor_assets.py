"""Vendors the dashboard's charting library into the package: uPlot from the npm registry.

The dashboard has no build step and needs no internet: the files it loads ship inside the
package (``src/edgesplit/http/static/``). This fetches the pinned release with ``npm pack``,
checks its integrity against the registry's (npm does), and copies the minified build, its
stylesheet and its licence. Run it only to change the version:

    python tools/vendor_assets.py [--version 1.6.32]
"""

from __future__ import annotations

import argparse
import subprocess
import tarfile
import tempfile
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "src" / "edgesplit" / "http" / "static"
FILES = {"package/dist/uPlot.iife.min.js": "uPlot.iife.min.js", "package/dist/uPlot.min.css": "uPlot.min.css",
         "package/LICENSE": "uPlot.LICENSE"}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="1.6.32")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", f"uplot@{args.version}"], cwd=tmp, check=True, capture_output=True)
        [archive] = Path(tmp).glob("uplot-*.tgz")
        with tarfile.open(archive) as tar:  # only the named files, read as bytes: nothing else is unpacked
            for source, target in FILES.items():
                member = tar.extractfile(source)
                if member is None:
                    raise SystemExit(f"{archive.name} has no regular file {source}")
                (STATIC / target).write_bytes(member.read())
                print(f"{source} -> {STATIC / target}")


if __name__ == "__main__":
    main()
