"""Screenshot a run page (``index.html``) in a real browser: headless Chromium, the Debian package.

Trains a short run with ``ganzoo train`` (pix2pix on the offline style
benchmark, evaluated every 50 steps so the page has metric curves too), or
takes ``--run-dir`` of an existing run, then has Chromium render its page from
disk and writes the screenshot to ``benchmarks/results/run_page.png``. Not part
of the test suite: it needs ``apt-get install chromium``.

    OMP_NUM_THREADS=1 nice python benchmarks/run_page.py
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
TRAIN = ["train", "--task", "pix2pix", "--dataset", "style-benchmark-aligned", "--image-size", "32", "--width", "16",
         "--batch-size", "8", "--steps", "400", "--log-every", "10", "--sample-every", "200", "--eval-every", "50",
         "--data-opt", "n_test=64", "--logger", "csv", "--no-progress", "--device", "cpu"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


def screenshot(page: Path, out: Path, width: int, height: int) -> Path:
    """Render ``page`` (a file) with headless Chromium into the PNG ``out``."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("run_page.py needs Chromium: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={out}",
                        f"--window-size={width},{height}", page.resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, help="An existing run to show (default: train a short one).")
    parser.add_argument("--out", type=Path, default=RESULTS / "run_page.png")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1850)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run_dir
        if run_dir is None:
            run_dir = Path(tmp) / "pix2pix-style-400"
            command = [sys.executable, "-m", "ganzoo", *TRAIN, "--out", str(run_dir)]
            print("$ ganzoo " + " ".join(TRAIN + ["--out", str(run_dir)]), flush=True)
            subprocess.run(command, check=True)
        print(f"wrote {screenshot(run_dir / 'index.html', args.out, args.width, args.height)}")


if __name__ == "__main__":
    main()
