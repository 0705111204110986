"""Start-up time of the ``ganzoo`` command, before and after a change, measured side by side.

Times whole processes (a subprocess from start to exit, as a user waits for it)
and reads each one's peak resident memory. Each round runs every command once
per checkout, alternating which checkout goes first, so drifting machine load
hits both alike; the table gives the median and the spread over the rounds.
``python -c "import torch"`` (the "after" interpreter) is the baseline that
``ganzoo list`` and ``ganzoo plugins`` cannot beat. Each checkout runs its own
``.venv/bin/ganzoo``; the plugin cache lives in a temporary folder, warmed by
one untimed run per command, and the "--help, no cache" row empties it before
every run (the first --help after an install).

    python benchmarks/startup.py --before ../wt-before --runs 7 --markdown benchmarks/results/startup.md
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "import torch (baseline)": ["python", "-c", "import torch"],
    "ganzoo --help": ["ganzoo", "--help"],
    "ganzoo train -h": ["ganzoo", "train", "-h"],
    "ganzoo list archs": ["ganzoo", "list", "archs"],
    "ganzoo plugins": ["ganzoo", "plugins"],
    "ganzoo --help, no cache": ["ganzoo", "--help"],
}


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{shlex.join(argv)} failed (exit {process.returncode}) in {cwd}")
    return seconds, usage.ru_maxrss / 1024


def spread(values: list[float], unit: str = "") -> str:
    """``median [min–max]``."""
    return f"{statistics.median(values):.2f}{unit} [{min(values):.2f}–{max(values):.2f}]"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the old code, with its .venv")
    parser.add_argument("--after", type=Path, default=ROOT, help="checkout of the new code, with its .venv")
    parser.add_argument("--runs", type=int, default=7, help="timed rounds")
    parser.add_argument("--markdown", type=Path, help="write the table here")
    args = parser.parse_args(argv)
    sides = {"before": args.before.resolve(), "after": args.after.resolve()}
    cache = Path(tempfile.mkdtemp(prefix="ganzoo-startup-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GANZOO_", "PYTHON"))}
    env["XDG_CACHE_HOME"] = str(cache)

    def argv_for(side: str, name: str) -> list[str]:
        program, *rest = COMMANDS[name]
        checkout = sides["after" if name.startswith("import torch") else side]
        return [str(checkout / ".venv" / "bin" / program), *rest]

    def measure(side: str, name: str) -> tuple[float, float]:
        if name.endswith("no cache"):
            for path in cache.rglob("plugins-*.json"):
                path.unlink()
        return run_once(argv_for(side, name), env, sides[side])

    load_before = os.getloadavg()
    for name in COMMANDS:  # untimed: fills the OS file cache and the plugin cache
        for side in sides:
            measure(side, name)
    times = {(side, name): [] for side in sides for name in COMMANDS}
    memory = {(side, name): [] for side in sides for name in COMMANDS}
    for round_ in range(args.runs):
        order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
        for name in COMMANDS:
            for side in order if not name.startswith("import torch") else ["after"]:
                seconds, mb = measure(side, name)
                times[side, name].append(seconds)
                memory[side, name].append(mb)
        print(f"round {round_ + 1}/{args.runs} done", file=sys.stderr)
    load_after = os.getloadavg()

    baseline = statistics.median(times["after", "import torch (baseline)"])
    rows = ["| command | before: s, median [min–max] | after: s, median [min–max] | after − import torch "
            "(median) | peak RSS MB before → after (median) |", "|---|---|---|---|---|"]
    for name in COMMANDS:
        if name.startswith("import torch"):
            rows.append(f"| `python -c \"import torch\"` | | {spread(times['after', name])} | 0 | "
                        f"{statistics.median(memory['after', name]):.0f} |")
            continue
        before, after = times["before", name], times["after", name]
        rows.append(f"| `{name}` | {spread(before)} | {spread(after)} | "
                    f"{statistics.median(after) - baseline:+.2f} | {statistics.median(memory['before', name]):.0f} "
                    f"→ {statistics.median(memory['after', name]):.0f} |")

    import torch

    from ganzoo.bench import machine

    command = shlex.join(["python", "benchmarks/startup.py", *(argv if argv is not None else sys.argv[1:])])
    text = "\n".join([
        "# Start-up time of the ganzoo command, before and after", "",
        f"- command: `{command}`",
        f"- before: `{sides['before']}` (git {git_head(sides['before'])}); after: `{sides['after']}` "
        f"(git {git_head(sides['after'])}, plus uncommitted changes if any)",
        f"- machine: {machine()}, {os.cpu_count()} CPUs, shared with other jobs; torch {torch.__version__}; "
        f"Python {sys.version.split()[0]}; date {time.strftime('%Y-%m-%d', time.gmtime())}",
        f"- load average (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in load_before)} before, "
        f"{', '.join(f'{x:.1f}' for x in load_after)} after",
        f"- {args.runs} rounds, whole-process wall time (start to exit) of each command in each checkout, "
        "alternating which goes first; one untimed round first. Plugin cache warm except in the last row, which "
        "deletes it before each run (what the first --help after a pip install costs).", "",
        *rows, "",
    ])
    print(text)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text)


def git_head(checkout: Path) -> str:
    result = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True)
    return result.stdout.strip() or "?"


if __name__ == "__main__":
    main()
