#!/usr/bin/env bash
# The prepared GPU check: run it once whenever a GPU is available; it takes under 8 minutes and installs nothing.
#
#   benchmarks/gpu_check.sh                      # CUDA: writes benchmarks/results/gpu_check_*_gpu.md
#   benchmarks/gpu_check.sh --device cpu --results /tmp/x   # small and quick: what tests/test_gpu_check.py runs
#   PYTHON=.venv/bin/python benchmarks/gpu_check.sh ...       # another interpreter than python3
#
# Stages, each under its own time limit (a stage that overruns is reported and the next one runs):
#   1. make ganzoo importable with its entry points (below) and check that `ganzoo list archs` works;
#   2. benchmarks/captured_check.py: the captured step trains as its reference does (CUDA: graphs vs step);
#   3. benchmarks/speed_vs_seed.py: seed 001's loop vs ganzoo, eager and with the captured step (+ CUDA graphs);
#   4. benchmarks/speed_modes.py at 32 and 64 px: eager, compile, captured step, CUDA graphs, bf16,
#      channels_last against the seed 001 loop and the pytorch/examples loop;
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
        -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}"; exit 0 ;;
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
import sys
from pathlib import Path
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
root, site = Path(sys.argv[1]), Path(sys.argv[2])
project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
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
stage() {  # NAME LIMIT_S COMMAND...: run with a time limit, keep its output, record ok / failed / over the limit
    local name="$1" limit="$2" rc began=$SECONDS
    shift 2
    echo "== $name (limit ${limit} s): $*"
    if command -v timeout >/dev/null; then
        timeout --kill-after=10 "$limit" "$@" > "$SCRATCH/$name.log" 2>&1; rc=$?
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

if [ "$DEVICE" = cuda ]; then
    BACKEND=inductor
    CHECK=(--steps 6)
    # 4 warm-up steps: a captured step runs eagerly first, compiles in the second, records CUDA graphs in the third
    SEED=(--batch-size 64 --steps 20 --repeats 5 --warmup 4)
    MODES=(--batch-size 64 --steps 20 --rounds 5 --warmup 4 --modes eager,compile,capture,capture+graphs,bf16,bf16+cl,capture+graphs+bf16)
    MODES_64=(--batch-size 64 --steps 20 --rounds 5 --warmup 4 --modes eager,compile,capture,capture+graphs,bf16,bf16+cl)
    LIMITS=(60 45 90 110 100 60)  # check, seed eager, seed captured, modes 32, modes 64, kernels: 465 s with setup
    CAPTURE=graphs
else
    BACKEND=aot_eager  # Inductor's C++ build takes minutes on a small CPU; the plumbing is what is checked here
    CHECK=(--steps 3)
    SEED=(--batch-size 8 --steps 1 --repeats 1 --warmup 2)
    MODES=(--batch-size 8 --steps 1 --rounds 1 --warmup 2 --modes eager,capture)
    MODES_64=(--batch-size 8 --steps 1 --rounds 1 --warmup 1 --modes eager)
    LIMITS=(120 60 0 120 60 0)  # the captured speed_vs_seed run is left to the GPU (speed-modes-32 has capture)
    CAPTURE=step
fi
B=(--compile-backend "$BACKEND")

stage captured-check "${LIMITS[0]}" "$PY" benchmarks/captured_check.py --device "$DEVICE" "${B[@]}" "${CHECK[@]}"
stage speed-vs-seed-eager "${LIMITS[1]}" "$PY" benchmarks/speed_vs_seed.py --device "$DEVICE" "${SEED[@]}" \
    --markdown "$RESULTS/gpu_check_speed_vs_seed_eager_$SUFFIX.md"
if [ "$DEVICE" = cuda ]; then
    stage speed-vs-seed-captured "${LIMITS[2]}" "$PY" benchmarks/speed_vs_seed.py --device "$DEVICE" "${SEED[@]}" \
        --capture "$CAPTURE" "${B[@]}" --markdown "$RESULTS/gpu_check_speed_vs_seed_captured_$SUFFIX.md"
else
    SUMMARY+=("- speed-vs-seed-captured: skipped on the CPU (a quick run; speed-modes-32 times the captured step)")
fi
stage speed-modes-32 "${LIMITS[3]}" "$PY" benchmarks/speed_modes.py --device "$DEVICE" --configs dcgan-32 \
    "${MODES[@]}" "${B[@]}" --no-kernel-bench --out "$SCRATCH/runs" \
    --json "$RESULTS/gpu_check_speed_modes_32_$SUFFIX.json" --markdown "$RESULTS/gpu_check_speed_modes_32_$SUFFIX.md"
stage speed-modes-64 "${LIMITS[4]}" "$PY" benchmarks/speed_modes.py --device "$DEVICE" --configs dcgan-64 \
    "${MODES_64[@]}" "${B[@]}" --no-kernel-bench --out "$SCRATCH/runs" \
    --json "$RESULTS/gpu_check_speed_modes_64_$SUFFIX.json" --markdown "$RESULTS/gpu_check_speed_modes_64_$SUFFIX.md"
if [ "$DEVICE" = cuda ]; then
    stage triton-op "${LIMITS[5]}" "$PY" benchmarks/speed_modes.py --device cuda --configs "" --steps 1 --rounds 1 \
        --warmup 1 --kernel-bench --markdown "$RESULTS/gpu_check_triton_op_$SUFFIX.md"
else
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
    for f in "$RESULTS"/gpu_check_speed_modes_*_"$SUFFIX".json; do
        [ -f "$f" ] && "$PY" - "$f" <<'EOF'
import json, statistics, sys
data = json.load(open(sys.argv[1]))  # one config per file, with both baselines
rate = {f"{e['group']}/{e['name']}": 1 / statistics.median(e["times"]) for e in data["entries"] if e["times"]}
seed, examples = rate.get("baseline-32/seed001 loop"), rate.get("baseline-64/pytorch-examples loop")
rows = sorted(((v, k) for k, v in rate.items() if not k.startswith("baseline")), reverse=True)
failed = [f"{e['group']}/{e['name']} ({e['error'][:80]})" for e in data["entries"] if e["error"]]
if rows:
    best, name = rows[0]
    same = f", x{best / examples:.2f} the pytorch/examples loop" if name.startswith("dcgan-64") and examples else ""
    print(f"- best mode {name}: x{best / seed:.2f} the seed 001 loop{same}"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
EOF
    done
    for f in "$RESULTS"/gpu_check_*_"$SUFFIX".md; do [ -f "$f" ] && echo "- wrote $f"; done
} > "$SCRATCH/summary.md"
cp "$SCRATCH/summary.md" "$RESULTS/gpu_check_summary_$SUFFIX.md"
echo
cat "$SCRATCH/summary.md"
grep -q '\*\*failed\*\*\|over its' "$SCRATCH/summary.md" && exit 1
exit 0
