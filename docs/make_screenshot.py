"""Make docs/report-vgg16.png, the README's picture of `onnxcost report --sample vgg16 -f html`.

    python docs/make_screenshot.py [--out docs/report-vgg16.png] [--height 1975]

Renders the built-in VGG-16 sample's HTML report into a temporary folder and has headless Chromium (Debian:
apt-get install -y chromium) photograph its top: the totals, the per-node charts and the live memory.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import onnxcost
from onnxcost.render.html import render_html
from onnxcost.samples import build

WIDTH = 1280


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "report-vgg16.png")
    parser.add_argument("--height", type=int, default=1975, help="pixels of the page to show, from its top")
    args = parser.parse_args()
    browser = next((found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None)
    if browser is None:
        print("headless Chromium is needed (Debian: apt-get install -y chromium)", file=sys.stderr)
        return 2
    html = render_html(onnxcost.analyze(build("vgg16"), source="vgg16.onnx"))
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "vgg16.html"
        page.write_text(html, encoding="utf-8")
        shot = Path(folder) / "shot.png"
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={folder}/profile",
                        "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
                        "--force-device-scale-factor=1", f"--window-size={WIDTH},{args.height}", f"--screenshot={shot}",
                        page.as_uri()], check=True, capture_output=True, timeout=120)
        args.out.write_bytes(shot.read_bytes())
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes; the page itself is {len(html.encode()):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
