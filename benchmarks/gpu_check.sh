#!/usr/bin/env bash
# The prepared GPU check: run it once whenever a GPU is available; it takes under 8 minutes and installs nothing.
#
#   benchmarks/gpu_check.sh                      # CUDA: writes benchmarks/results/gpu_check_*_gpu.md
#   benchmarks/gpu_check.sh --device cpu --results /tmp/x   # small and quick: what tests/test_gpu_check.py runs
#   PYTHON=.venv/bin/python benchmarks/gpu_check.sh ...       # another interpreter than python3
#
# Stages, each under its own time limit (a stage that overruns is reported and the next one runs) within a
# budget of 460 s in all:
#   1. make ganzoo importable with its entry points (below) and check that `ganzoo list archs` works;
#   2. benchmarks/captured_check.py: the captured step trains as its reference does (CUDA: graphs vs step);
#   3. benchmarks/speed_vs_seed.py: seed 001's loop vs ganzoo, eager and with the captured step + CUDA graphs;
#   4. benchmarks/speed_modes.py at 32 and 64 px: eager, bf16, bf16 + channels_last in one run, then compile,
#      captured step, captured step + CUDA graphs per size, each run against the seed 001 and pytorch/examples loops;
#   5. the Triton op micro-benchmark (speed_modes.py --kernel-bench; CUDA only).
# Then a short summary (also written as gpu_check_summary_<device>.md).
#
# Entry points without installing: the GPU image cannot pip install, and ganzoo finds its plugins through the
# `ganzoo` entry-point group. When the ganzoo that Python imports is not this checkout with its entry points,
# the script writes a ganzoo-<version>.dist-info (METADATA + entry_points.txt from pyproject.toml) and a
# ganzoo_plugins link to plugins/ into a temporary directory, and puts it and the checkout first on PYTHONPATH.
set -uo pipefail

DEVICE=cuda
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RESULTS="$ROOT/benchmarks/results"
PY="${PYTHON:-python3}"
while [ $# -gt 0 ]; do
    case "$1" in
        --device) DEVICE="$2"; shift 2 ;;
        --results) RESULTS="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d'; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument $1 (use --device cuda|cpu, --results DIR)" >&2; exit 2 ;;
    esac
done
case "$DEVICE" in cuda|cpu) ;; *) echo "gpu_check.sh: --device cuda or cpu, not $DEVICE" >&2; exit 2 ;; esac
if ! command -v "$PY" >/dev/null; then PY=python; fi
mkdir -p "$RESULTS"
RESULTS="$(cd "$RESULTS" && pwd)"
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
cd "$ROOT"
SUFFIX="$([ "$DEVICE" = cuda ] && echo gpu || echo cpu)"
START=$SECONDS
SUMMARY=()

# ---- 1. ganzoo importable from this checkout, with its entry points ---------------------------------------------
registered() {  # this checkout's ganzoo and plugins, and the `ganzoo` entry points visible
    "$PY" - "$ROOT" <<'EOF' 2>"$SCRATCH/registered.err"
import sys
from importlib.metadata import entry_points
from pathlib import Path
import ganzoo, ganzoo_plugins
root = Path(sys.argv[1]).resolve()
assert Path(ganzoo.__file__).resolve().parent == root / "ganzoo", ganzoo.__file__
assert Path(ganzoo_plugins.__file__).resolve().parent == root / "plugins", ganzoo_plugins.__file__
assert entry_points(group="ganzoo", name="dcgan")
EOF
}
if registered; then
    echo "ganzoo: this checkout, installed with its entry points"
else
    SITE="$SCRATCH/site"
    mkdir -p "$SITE"
    "$PY" - "$ROOT" "$SITE" <<'EOF' || { echo "gpu_check.sh: cannot read pyproject.toml's entry points" >&2; exit 1; }
import re
import sys
from pathlib import Path
root, site = Path(sys.argv[1]), Path(sys.argv[2])
text = (root / "pyproject.toml").read_text()
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10, maybe without tomli: the few flat tables needed, read by hand
    tomllib = None
if tomllib is not None:
    project = tomllib.loads(text)["project"]
else:
    tables, table = {}, None
    for line in text.splitlines():
        header = re.fullmatch(r"\[([^\]]+)\]\s*", line)
        pair = re.fullmatch(r'\s*"?([\w.-]+)"?\s*=\s*"([^"]*)"\s*(#.*)?', line)
        if header:
            table = tables.setdefault(header.group(1), {})
        elif pair and table is not None:
            table[pair.group(1)] = pair.group(2)
    project = {"version": tables["project"]["version"], "scripts": tables.get("project.scripts", {}),
               "entry-points": {"ganzoo": tables["project.entry-points.ganzoo"]}}
info = site / f"ganzoo-{project['version']}.dist-info"
info.mkdir()
(info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: ganzoo\nVersion: {project['version']}\n")
lines = []
for group, points in {"console_scripts": project.get("scripts", {}), **project["entry-points"]}.items():
    lines += [f"[{group}]", *(f"{name} = {target}" for name, target in points.items()), ""]
(info / "entry_points.txt").write_text("\n".join(lines))
(site / "ganzoo_plugins").symlink_to(root / "plugins", target_is_directory=True)
EOF
    export PYTHONPATH="$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
    if ! registered; then
        echo "gpu_check.sh: ganzoo's entry points are still not visible with PYTHONPATH=$PYTHONPATH ($PY):" >&2
        tail -n 3 "$SCRATCH/registered.err" >&2
        exit 1
    fi
    echo "ganzoo: this checkout through PYTHONPATH, entry points from $SITE"
fi
if ! "$PY" -m ganzoo list archs > "$SCRATCH/archs.txt" 2>&1 || ! grep -q dcgan "$SCRATCH/archs.txt"; then
    echo "gpu_check.sh: \`ganzoo list archs\` does not work here:" >&2
    cat "$SCRATCH/archs.txt" >&2
    exit 1
fi
echo "ganzoo list archs: ok ($((SECONDS - START)) s)"
if [ "$DEVICE" = cuda ] && ! "$PY" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "gpu_check.sh: torch sees no CUDA device; use --device cpu" >&2
    exit 1
fi
MACHINE="$("$PY" -c "
import torch
from ganzoo.bench import machine
print(torch.cuda.get_device_name(0) if '$DEVICE' == 'cuda' else machine(), '; torch', torch.__version__)")"

# ---- the stages ---------------------------------------------------------------------------------------------------
# Every stage gets its own limit, and no more than what is left of the whole budget (480 s on CUDA, less a margin),
# in order of importance for the goals: the stages after the compiled speed modes may get less than their limit.
# speed-vs-seed-graphs compiles the dcgan-32 nets that speed_modes_32_compiled compiles again (Inductor's on-disk
# cache may serve the second).
BUDGET=$([ "$DEVICE" = cuda ] && echo 460 || echo 900)
stage() {  # NAME LIMIT_S COMMAND...: run with a time limit, keep its output, record ok / failed / over the limit
    local name="$1" limit="$2" rc began=$SECONDS left=$((START + BUDGET - SECONDS))
    shift 2
    if [ "$left" -lt 20 ]; then
        SUMMARY+=("- $name: **skipped**, the time budget is spent")
        return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    echo "== $name (limit ${limit} s): $*"
    if command -v timeout >/dev/null; then
        timeout --kill-after=5 "$limit" "$@" > "$SCRATCH/$name.log" 2>&1; rc=$?
    else
        "$@" > "$SCRATCH/$name.log" 2>&1; rc=$?
    fi
    tail -n 25 "$SCRATCH/$name.log"
    case $rc in
        0) SUMMARY+=("- $name: ok, $((SECONDS - began)) s") ;;
        124|137) SUMMARY+=("- $name: **over its ${limit} s limit**, stopped") ;;
        *) SUMMARY+=("- $name: **failed** (exit $rc): $(grep -v '^\s*$' "$SCRATCH/$name.log" | tail -n 1 | cut -c1-200)") ;;
    esac
}
modes() {  # NAME LIMIT_S CONFIGS MODES: one speed_modes.py run (with its own baselines, so its ratios hold)
    stage "$1" "$2" "$PY" benchmarks/speed_modes.py --device "$DEVICE" --configs "$3" --modes "$4" "${TIMING[@]}" \
        --compile-backend "$BACKEND" --no-kernel-bench --out "$SCRATCH/runs" \
        --json "$RESULTS/gpu_check_$1_$SUFFIX.json" --markdown "$RESULTS/gpu_check_$1_$SUFFIX.md"
}

if [ "$DEVICE" = cuda ]; then
    BACKEND=inductor
    # 4 warm-up steps: a captured step runs eagerly first, compiles in the second, records CUDA graphs in the third
    TIMING=(--batch-size 64 --steps 20 --rounds 5 --warmup 4)
    SEED=(--batch-size 64 --steps 20 --repeats 5 --warmup 4)
    stage captured-check 60 "$PY" benchmarks/captured_check.py --device cuda --steps 6
    stage speed-vs-seed-eager 30 "$PY" benchmarks/speed_vs_seed.py --device cuda "${SEED[@]}" \
        --markdown "$RESULTS/gpu_check_speed_vs_seed_eager_$SUFFIX.md"
    stage speed-vs-seed-graphs 75 "$PY" benchmarks/speed_vs_seed.py --device cuda "${SEED[@]}" --capture graphs \
        --markdown "$RESULTS/gpu_check_speed_vs_seed_graphs_$SUFFIX.md"
    modes speed_modes_eager 45 dcgan-32,dcgan-64 eager,bf16,bf16+cl  # nothing to compile: these always come back
    modes speed_modes_32_compiled 100 dcgan-32 compile,capture,capture+graphs
    modes speed_modes_64_compiled 100 dcgan-64 compile,capture,capture+graphs
    stage triton-op 35 "$PY" benchmarks/speed_modes.py --device cuda --configs "" --steps 1 --rounds 1 --warmup 1 \
        --kernel-bench --markdown "$RESULTS/gpu_check_triton_op_$SUFFIX.md"
else  # a quick run of the same plumbing: small batches, one step, aot_eager (Inductor's C++ build takes minutes)
    BACKEND=aot_eager
    TIMING=(--batch-size 8 --steps 1 --rounds 1 --warmup 2)
    stage captured-check 120 "$PY" benchmarks/captured_check.py --device cpu --compile-backend aot_eager --steps 3
    stage speed-vs-seed-eager 60 "$PY" benchmarks/speed_vs_seed.py --device cpu --batch-size 8 --steps 1 \
        --repeats 1 --warmup 1 --markdown "$RESULTS/gpu_check_speed_vs_seed_eager_$SUFFIX.md"
    SUMMARY+=("- speed-vs-seed-graphs: skipped (CUDA graphs need CUDA)")
    modes speed_modes_eager 60 dcgan-32,dcgan-64 eager
    modes speed_modes_32_compiled 120 dcgan-32 capture
    SUMMARY+=("- speed_modes_64_compiled: skipped on the CPU (a quick run)")
    SUMMARY+=("- triton-op: skipped (the Triton op needs CUDA)")
fi

# ---- summary -----------------------------------------------------------------------------------------------------
{
    echo "# GPU check ($SUFFIX): $(date -u +%Y-%m-%d)"
    echo
    echo "- device: $MACHINE; \`benchmarks/gpu_check.sh --device $DEVICE\`, $((SECONDS - START)) s in all"
    printf '%s\n' "${SUMMARY[@]}"
    echo
    grep -h "captured check on" "$SCRATCH/captured-check.log" 2>/dev/null | sed 's/^/- /'
    for f in "$RESULTS"/gpu_check_speed_vs_seed_*_"$SUFFIX".md; do
        [ -f "$f" ] && echo "- $(basename "$f" .md): $(grep -h -o 'ganzoo: [^;]*' "$f" | head -n 1); $(grep -h 'ratio ganzoo / seed' "$f" | tr -d '*')"
    done
    "$PY" - "$RESULTS"/gpu_check_speed_modes_*_"$SUFFIX".json <<'EOF'
import json, statistics, sys
from pathlib import Path
best = {}  # config: (x the same-size baseline, x the seed 001 loop, mode, file); ratios within one run only
failed = []
for path in [Path(p) for p in sys.argv[1:] if Path(p).exists()]:
    entries = json.loads(path.read_text())["entries"]
    rate = {(e["group"], e["name"]): 1 / statistics.median(e["times"]) for e in entries if e["times"]}
    seed, examples = rate.get(("baseline-32", "seed001 loop")), rate.get(("baseline-64", "pytorch-examples loop"))
    failed += [f"{e['group']}/{e['name']} ({e['error'][:100]})" for e in entries if e["error"]]
    for (group, name), value in rate.items():
        base = examples if group.endswith("64") else seed
        if not group.startswith("baseline") and base and seed:
            best[group] = max(best.get(group, (0.0,)), (value / base, value / seed, name, path.stem))
for group, (same, vs_seed, name, stem) in sorted(best.items()):
    baseline = "the pytorch/examples loop" if group.endswith("64") else "the seed 001 loop"
    print(f"- {group}: best mode {name}, x{same:.2f} {baseline}"
          + (f" (x{vs_seed:.2f} the seed 001 loop)" if group.endswith("64") else "") + f" [{stem}]")
for failure in failed:
    print(f"- mode failed: {failure}")
EOF
    for f in "$RESULTS"/gpu_check_*_"$SUFFIX".md; do [ -f "$f" ] && echo "- wrote $f"; done
} > "$SCRATCH/summary.md"
cp "$SCRATCH/summary.md" "$RESULTS/gpu_check_summary_$SUFFIX.md"
echo
cat "$SCRATCH/summary.md"
grep -q '\*\*failed\*\*\|over its' "$SCRATCH/summary.md" && exit 1
exit 0
