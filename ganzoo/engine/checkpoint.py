"""Checkpoints as safetensors: tensors plus JSON metadata, never pickle.

Loading a checkpoint never executes code. The metadata holds the run config,
so ``ganzoo sample ckpt.safetensors`` needs nothing else.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..api import GanzooError
from ..files import file_mode, write_error
from .config import MAX_COUNT, SETTINGS, RunConfig

FORMAT = "ganzoo-checkpoint-1"
CHECKPOINT_NAME = "checkpoint.safetensors"
TMP_SUFFIX = ".tmp"  # the file a save writes before renaming it into place
MAX_N_CRITIC = int(SETTINGS["n_critic"].high)  # batches per step at most


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
    """Write atomically (temp file + rename): a crash mid-write never leaves a broken checkpoint.

    A full or read-only disk is one error line naming the path, and the previous checkpoint stays.
    """
    path = Path(path)
    tmp = path.with_name(path.name + TMP_SUFFIX)
    meta = {key: json.dumps(value) for key, value in metadata.items()}
    meta["format"] = FORMAT
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp), metadata=meta)
        os.chmod(tmp, file_mode())  # safetensors creates it 0600; a run's other files are 0644
        os.replace(tmp, path)
    except (OSError, SafetensorError) as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, SafetensorError):  # safetensors reports the OS error in its message: "(os error 28)"
            code = re.search(r"os error (\d+)", str(exc))
            exc = OSError(int(code.group(1)), os.strerror(int(code.group(1)))) if code else OSError(None, str(exc))
        raise write_error(path, exc) from None
    return path


def resolve_checkpoint(path: str | Path) -> Path:
    """Accept a checkpoint file or a run directory that holds one."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.exists():
        tmp = path.with_name(path.name + TMP_SUFFIX)
        if tmp.is_file():
            state = ("holds a complete checkpoint: rename it to " + path.name + " to use it"
                     if _is_complete(tmp) else "is incomplete: delete it and train again")
            raise GanzooError(f"checkpoint '{path}' does not exist; '{tmp}', left by a crash during a save, {state}")
        if (path.parent / "config.toml").is_file():  # a run folder whose first checkpoint is not written yet
            raise GanzooError(f"checkpoint '{path}' does not exist yet: the run in {path.parent} is still training "
                              "or stopped before its first save (see its log.jsonl); wait for a checkpoint, or "
                              "train it again with --overwrite")
        raise GanzooError(f"checkpoint '{path}' does not exist; pass a .safetensors file or a run directory")
    return path


def _is_complete(path: Path) -> bool:
    """Whether ``path`` is a whole ganzoo checkpoint (its header and extent check out)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return (handle.metadata() or {}).get("format") == FORMAT
    except (SafetensorError, OSError, ValueError):
        return False


def _damaged(path: Path, exc: Exception) -> GanzooError:
    return GanzooError(f"checkpoint '{path}' is truncated or not a safetensors file ({exc}); "
                       "use another checkpoint or re-run training")


def _read_header(path: Path) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
    """Metadata (JSON-decoded) and tensor shapes from the file's header; no tensor is read."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw_meta = handle.metadata() or {}
            shapes = {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise _damaged(path, exc) from None
    if raw_meta.get("format") != FORMAT:
        raise GanzooError(f"'{path}' is a safetensors file but not a ganzoo checkpoint (no '{FORMAT}' metadata)")
    try:
        meta = {key: json.loads(value) for key, value in raw_meta.items() if key != "format"}
    except json.JSONDecodeError as exc:
        raise GanzooError(f"checkpoint '{path}' has corrupt metadata: {exc}") from None
    return meta, shapes


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        with safe_open(str(path), framework="pt") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise _damaged(path, exc) from None


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read tensors and metadata of any ganzoo checkpoint; a truncated or foreign file gives a clear error.

    Run checkpoints (training, sampling, resuming) are read through :func:`read_run_checkpoint`, which
    also validates their metadata and shapes.
    """
    path = resolve_checkpoint(path)
    meta, _ = _read_header(path)
    return _read_tensors(path), meta


@dataclass
class RunCheckpoint:
    """A run checkpoint's validated header: metadata, the run config and tensor shapes, no tensor data.

    Built by :func:`read_run_checkpoint`; :meth:`check_shapes` compares the file with the networks its
    config builds before anything large is allocated, and :meth:`tensors` then reads the weights.
    """

    path: Path
    meta: dict[str, Any]
    config: RunConfig
    shapes: dict[str, tuple[int, ...]]

    def tensors(self) -> dict[str, torch.Tensor]:
        return _read_tensors(self.path)

    def check_shapes(self, expected: dict[str, tuple[int, ...]]) -> None:
        """Refuse, in one line, a file whose tensors are not what its own config builds (edited metadata, a
        damaged file): checked against networks built on the meta device, so a forged ``width`` allocates nothing."""
        c = self.config
        built = f"arch={c.arch}, width={c.width}, nz={c.nz}, image_size={c.image_size}, channels={c.channels}"
        for key, shape in expected.items():
            found = self.shapes.get(key)
            if found is None:
                problem = f"lacks tensor {key} {shape}"
            elif tuple(found) != tuple(shape):
                problem = f"holds {key} as {found}"
            else:
                continue
            raise GanzooError(
                f"checkpoint '{self.path}' {problem}, but its metadata config ({built}) needs {key} as {shape}: "
                "the file is damaged or its metadata was edited; use another checkpoint"
            )


def read_run_checkpoint(path: str | Path, resume: bool = False) -> RunCheckpoint:
    """The one reader of run checkpoints' headers: every metadata field a command needs is checked for
    type and range here (the config by :class:`RunConfig`'s validator), so a missing or edited field is one
    error line naming the file and the field. ``resume`` also checks the training state (optimizers,
    schedulers, scaler, RNG states)."""
    path = resolve_checkpoint(path)
    meta, shapes = _read_header(path)

    def bad(field: str, want: str) -> GanzooError:
        found = "missing" if field not in meta else json.dumps(meta[field])[:60]
        return GanzooError(f"checkpoint '{path}': metadata '{field}' should be {want}, found {found}; the file is "
                           "damaged or was edited: use another checkpoint")

    if "config" not in meta and isinstance(meta.get("kind"), str):  # another ganzoo file, e.g. a feature classifier
        raise GanzooError(f"'{path}' is a {meta['kind']} file, not a run's checkpoint; give this command a run "
                          "directory or its checkpoint.safetensors (a classifier goes to --classifier)")
    if not isinstance(meta.get("config"), dict):
        raise bad("config", "the run's settings (a JSON object)")
    try:
        config = RunConfig.from_dict(meta["config"], f"checkpoint '{path}' metadata config")
    except GanzooError as exc:
        message = str(exc)
        prefix = "" if message.startswith("checkpoint ") else f"checkpoint '{path}' metadata config: "
        raise GanzooError(f"{prefix}{message}") from None
    for field, most in (("step", MAX_COUNT), ("batches", MAX_COUNT * MAX_N_CRITIC)):
        value = meta.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= most:
            raise bad(field, f"a whole number from 0 to {most}")
    if resume:
        optimizers = meta.get("optimizers")
        if not (isinstance(optimizers, dict) and all(
                isinstance(optimizers.get(k), dict) and isinstance(optimizers[k].get("param_groups"), list)
                and isinstance(optimizers[k].get("state"), dict) for k in ("opt_d", "opt_g"))):
            raise bad("optimizers", "the optimizer states (opt_d, opt_g with param_groups and state)")
        schedulers = meta.get("schedulers")
        if not (isinstance(schedulers, list) and len(schedulers) == 2 and all(isinstance(x, dict) for x in schedulers)):
            raise bad("schedulers", "two LR scheduler states")
        if not isinstance(meta.get("scaler", {}), dict):
            raise bad("scaler", "the GradScaler state (a JSON object)")
        for key, reference in (("rng.engine", torch.Generator().get_state()), ("rng.torch", torch.get_rng_state())):
            if shapes.get(key) != tuple(reference.shape):
                raise GanzooError(f"checkpoint '{path}' lacks a valid random-number state ({key}), so it cannot "
                                  "resume exactly; the file is damaged or was edited: use another checkpoint")
    return RunCheckpoint(path, meta, config, shapes)


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
