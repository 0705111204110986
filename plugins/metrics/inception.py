"""Inception-v3 features for FID/KID/IS/PR/DC, from weights already on disk.

The standard FID network (the 2015 TensorFlow Inception graph ported to
PyTorch by torch-fidelity, the same one torchmetrics uses) gives figures
comparable with published ones on natural images. Nothing is downloaded:
``--classifier inception`` reads the file torchmetrics/torch-fidelity leave in
the torch hub cache, ``--classifier inception:PATH`` reads any copy of it.
Features are the 2048-d pool layer, logits the 1008 unbiased ImageNet logits
(what IS uses); images are quantised to uint8 and resized to 299 px inside.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ganzoo.api import GanzooError
from ganzoo.hookspecs import Register, hookimpl
from ganzoo.metrics import FeatureSpec

WEIGHTS_NAME = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS_NAME}"
PREFIX = "inception"


def default_weights() -> Path:
    """Where torchmetrics' FID leaves the weights after its first (online) use."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_NAME


def weights_path(spec: str | Path) -> Path:
    _, _, given = str(spec).partition(":")
    return Path(given).expanduser() if given else default_weights()


class InceptionFeatures(nn.Module):
    """The interface the metrics read (``features_and_logits`` on images in [-1, 1]) over torch-fidelity's net."""

    batch_size = 50  # 299 px activations: keep CPU memory to a few GB

    def __init__(self, path: Path) -> None:
        super().__init__()
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        except ImportError:
            raise GanzooError(
                "--classifier inception needs torch-fidelity: pip install 'ganzoo[inception]'"
            ) from None
        try:
            # The file is read once, tensors only: a crafted file is refused instead of running its code.
            # torch-fidelity unpickles what it is given with weights_only=False, so it gets those checked
            # tensors, re-saved in memory by us, never the file (which could change between check and use).
            import io

            checked = io.BytesIO()
            torch.save(torch.load(path, map_location="cpu", weights_only=True), checked)
            checked.seek(0)
            self.net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                                   feature_extractor_weights_path=checked)
        except Exception as exc:  # torch.load and load_state_dict report a foreign or corrupt file in many ways
            detail = next(iter(str(exc).splitlines()), "")
            raise GanzooError(
                f"--classifier inception: '{path}' is not the FID Inception weights file ({WEIGHTS_NAME}) or is "
                f"corrupt ({type(exc).__name__}: {detail}); fetch {WEIGHTS_URL} on a machine with internet and "
                "pass --classifier inception:PATH"
            ) from None
        self.num_features = 2048
        self.meta = {"kind": PREFIX, "dataset": None, "weights": str(path)}

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.shape[1] not in (1, 3):
            raise GanzooError(f"Inception features need 1- or 3-channel images, got {x.shape[1]} channels")
        images = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        features, logits = self.net(images.expand(-1, 3, -1, -1))
        return features, logits


def load_inception(spec: str | Path) -> InceptionFeatures:
    """The Inception feature net for a ``--classifier inception[:PATH]`` value, or a clear error."""
    path = weights_path(spec)
    if not path.is_file():
        raise GanzooError(
            f"--classifier {spec}: no Inception weights at '{path}'. Nothing is downloaded at run time: fetch "
            f"{WEIGHTS_URL} on a machine with internet, then put it at that path or pass --classifier "
            "inception:PATH. For small or non-natural images (e.g. MNIST) a domain classifier is usually "
            "the better feature space: ganzoo features train"
        )
    return InceptionFeatures(path)


@hookimpl
def register_features(register: Register) -> None:
    register("inception", FeatureSpec(
        lambda path: load_inception(f"{PREFIX}:{path}" if path else PREFIX),
        "FID Inception-v3 (torch-fidelity's port) from weights on disk: --classifier inception[:PATH]",
        source=lambda path: weights_path(f"{PREFIX}:{path}"),
    ))
