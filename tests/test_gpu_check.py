"""benchmarks/gpu_check.sh, the prepared GPU check, run small on the CPU so that it still works when a GPU comes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


# In the default suite so the script cannot rot: 42 s on a quiet 2-core VM (five interpreters start, the captured
# step compiles twice), ~2.5 minutes on a loaded one.
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gpu_check_runs_on_the_cpu(tmp_path):
    result = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--device", "cpu", "--results",
                             str(tmp_path)], cwd=tmp_path, env={**os.environ, "PYTHON": sys.executable},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    summary = (tmp_path / "gpu_check_summary_cpu.md").read_text()
    for stage in ("captured-check", "speed-vs-seed-eager", "speed_modes_eager", "speed_modes_32_compiled"):
        assert f"- {stage}: ok" in summary, summary
    assert "--capture step vs --capture off" in summary and "(ok;" in summary
    assert "triton-op: skipped" in summary and "failed" not in summary
    modes = (tmp_path / "gpu_check_speed_modes_32_compiled_cpu.md").read_text()
    assert "| dcgan-32 | capture |" in modes and "| baseline 32 px | seed001 loop |" in modes
    eager = (tmp_path / "gpu_check_speed_modes_eager_cpu.md").read_text()
    assert "| dcgan-64 | eager |" in eager and "pytorch-examples loop" in eager
    assert "ganzoo: fp32;" in (tmp_path / "gpu_check_speed_vs_seed_eager_cpu.md").read_text()
    assert "- dcgan-32: best mode " in summary and "- dcgan-64: best mode eager, x" in summary
