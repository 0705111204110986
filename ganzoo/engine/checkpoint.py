"""Checkpoints as safetensors: tensors plus JSON metadata, never pickle.

Loading a checkpoint never executes code. The metadata holds the run config,
so ``ganzoo sample ckpt.safetensors`` needs nothing else.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..api import GanzooError

FORMAT = "ganzoo-checkpoint-1"
CHECKPOINT_NAME = "checkpoint.safetensors"


def flatten_optimizer(prefix: str, state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state_dict into tensors (for safetensors) and JSON-able rest."""
    tensors: dict[str, torch.Tensor] = {}
    rest: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for idx, entries in state["state"].items():
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{idx}.{key}"] = value
            else:
                rest["state"].setdefault(str(idx), {})[key] = value
    return tensors, rest


def unflatten_optimizer(prefix: str, tensors: dict[str, torch.Tensor], rest: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            idx, name = key[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(idx), {})[name] = value
    for idx, entries in rest["state"].items():
        state.setdefault(int(idx), {}).update(entries)
    return {"state": state, "param_groups": rest["param_groups"]}


def save_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> Path:
    """Write atomically (temp file + rename): a crash mid-write never leaves a broken checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    meta = {key: json.dumps(value) for key, value in metadata.items()}
    meta["format"] = FORMAT
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp), metadata=meta)
    os.replace(tmp, path)
    return path


def resolve_checkpoint(path: str | Path) -> Path:
    """Accept a checkpoint file or a run directory that holds one."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.exists():
        raise GanzooError(f"checkpoint '{path}' does not exist; pass a .safetensors file or a run directory")
    return path


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read tensors and metadata; a truncated or foreign file gives a clear error."""
    path = resolve_checkpoint(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw_meta = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise GanzooError(
            f"checkpoint '{path}' is truncated or not a safetensors file ({exc}); "
            "use another checkpoint or re-run training"
        ) from None
    if raw_meta.get("format") != FORMAT:
        raise GanzooError(f"'{path}' is a safetensors file but not a ganzoo checkpoint (no '{FORMAT}' metadata)")
    try:
        meta = {key: json.loads(value) for key, value in raw_meta.items() if key != "format"}
    except json.JSONDecodeError as exc:
        raise GanzooError(f"checkpoint '{path}' has corrupt metadata: {exc}") from None
    return tensors, meta


def module_tensors(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{key}": value for key, value in module.state_dict().items()}


def load_module(prefix: str, module: torch.nn.Module, tensors: dict[str, torch.Tensor], source: str) -> None:
    """Load weights with an error that says what does not fit, not a deep torch traceback."""
    state = {key[len(prefix) + 1 :]: value for key, value in tensors.items() if key.startswith(prefix + ".")}
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or mismatched:
        details = []
        if missing:
            details.append(f"missing {len(missing)} tensors (e.g. {missing[0]})")
        if unexpected:
            details.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
        if mismatched:
            k = mismatched[0]
            details.append(f"shape mismatch at {k}: {tuple(state[k].shape)} vs {tuple(expected[k].shape)}")
        raise GanzooError(
            f"checkpoint '{source}' does not fit network '{prefix}': " + "; ".join(details)
            + ". It was trained with a different architecture or options; check --arch/--width/--image-size."
        )
    module.load_state_dict(state)
