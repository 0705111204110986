"""Dataset plugins and ganzoo.images: shapes, ranges, determinism and the errors users will see."""

from __future__ import annotations

import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import skimage.io
import torch
from torch.utils.data import DataLoader

import ganzoo
from ganzoo.api import DataOptions, GanzooError, GanzooWarning
from ganzoo.images import list_images, read_image, resize, save_grid, save_image, to_uint8

from conftest import write_idx

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"real MNIST test files not found in {MNIST_DIR}",
)
# Official MNIST t10k label counts for digits 0-9.
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def build(name: str, **kwargs) -> torch.utils.data.Dataset:
    return ganzoo.get("datasets", name).load(name, DataOptions(**kwargs))


def check_item(item: dict, channels: int, size: int) -> None:
    image, label = item["image"], item["label"]
    assert image.shape == (channels, size, size) and image.dtype == torch.float32
    assert image.min() >= -1 and image.max() <= 1
    assert label.dtype == torch.long and label.dim() == 0


def test_all_datasets_registered():
    names = {entry.name for entry in ganzoo.list("datasets")}
    assert {"shapes", "skimage-patches", "mnist", "folder", "cifar10", "fashion-mnist", "celeba"} <= names


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_shape_and_range(size, channels):
    ds = build("shapes", image_size=size, channels=channels, options={"n": 20})
    assert len(ds) == 20
    for i in range(0, 20, 5):
        item = ds[i]
        check_item(item, channels, size)
        assert 0 <= item["label"] < ganzoo.get("datasets", "shapes").num_classes
        assert item["image"].std() > 0.1  # something is drawn on the background


def test_shapes_deterministic_per_seed_and_split():
    a, b = build("shapes", seed=3), build("shapes", seed=3)
    assert torch.equal(a[7]["image"], b[7]["image"]) and a[7]["label"] == b[7]["label"]
    b[2]  # touching other items first must not change item 7
    assert torch.equal(a[7]["image"], build("shapes", seed=3)[7]["image"])
    assert not torch.equal(a[7]["image"], build("shapes", seed=4)[7]["image"])
    assert not torch.equal(a[7]["image"], build("shapes", seed=3, split="test")[7]["image"])
    assert ganzoo.get("datasets", "shapes").channels == 3 and a[0]["image"].shape[0] == 3
    assert len(build("shapes")) == 10000


def test_shapes_labels_cover_every_kind_and_batch():
    ds = build("shapes", options={"n": 200})
    assert set(Counter(int(ds[i]["label"]) for i in range(200))) == {0, 1, 2, 3}
    batch = next(iter(DataLoader(ds, batch_size=8)))
    assert batch["image"].shape == (8, 3, 32, 32) and batch["label"].shape == (8,)


def _colour_areas(image: torch.Tensor) -> torch.Tensor:
    """The share of the image each exact colour covers, largest first."""
    pixels = ((image.flatten(1).T + 1) * 127.5).round().int()
    _, counts = torch.unique(pixels, dim=0, return_counts=True)
    return counts.sort(descending=True).values / pixels.shape[0]


def test_shapes_options_give_one_shape_on_a_plain_background():
    def two_colours(options: dict) -> int:  # images that are one flat background and one flat shape
        ds = build("shapes", options={"n": 60, **options})
        return sum(int((_colour_areas(ds[i]["image"]) >= 0.03).sum()) == 2 for i in range(60))

    assert two_colours({"max_shapes": 1, "gradient": 0.0}) >= 55  # edges blended by the resize aside
    assert two_colours({}) <= 40  # the default: gradients and up to 3 shapes
    graded = build("shapes", options={"n": 60, "max_shapes": 1, "gradient": 1.0})
    assert sum(_colour_areas(graded[i]["image"])[0] < 0.3 for i in range(60)) >= 50  # no one background colour


def test_shapes_without_corners_draws_only_circles_and_ellipses():
    round_only = build("shapes", options={"n": 100, "corners": False})
    assert {int(round_only[i]["label"]) for i in range(100)} == {0, 3}  # KINDS: circle, ellipse
    with pytest.raises(GanzooError, match=r"corners=no: dataset 'shapes' expects true or false for corners "
                                          r"\(default true\)"):
        build("shapes", options={"corners": "no"})


@pytest.mark.parametrize("option, value", [("max_shapes", 4), ("max_shapes", 0), ("gradient", 1.5)])
def test_shapes_rejects_out_of_range_options(option, value):
    with pytest.raises(GanzooError, match=f"--data-opt {option}"):
        build("shapes", options={option: value})


def test_shapes_rejects_unknown_split():
    with pytest.raises(GanzooError, match="splits"):
        build("shapes", split="val")


def test_skimage_patches():
    ds = build("skimage-patches", image_size=32, options={"n": 12})
    spec = ganzoo.get("datasets", "skimage-patches")
    for i in range(12):
        check_item(ds[i], 3, 32)
        assert 0 <= ds[i]["label"] < spec.num_classes
    again = build("skimage-patches", image_size=32, options={"n": 12})
    assert torch.equal(ds[5]["image"], again[5]["image"])
    check_item(build("skimage-patches", image_size=16, channels=1)[0], 1, 16)
    with pytest.raises(GanzooError, match="min_scale"):
        build("skimage-patches", options={"min_scale": 0.9, "max_scale": 0.5})


def test_skimage_patches_test_sources_keep_whole_photos_out_of_training():
    from ganzoo_plugins.datasets.skimage_patches import SOURCES

    held = {"chelsea", "coffee", "camera"}
    options = {"n": 40, "test_sources": ",".join(sorted(held))}
    train = {SOURCES[int(build("skimage-patches", options=options)[i]["label"])] for i in range(40)}
    test = {SOURCES[int(build("skimage-patches", split="test", options=options)[i]["label"])] for i in range(40)}
    assert test == held and train and not train & held
    mixed = {SOURCES[int(build("skimage-patches", options={"n": 40})[i]["label"])] for i in range(40)}
    assert mixed & held  # by default both splits crop every photo
    with pytest.raises(GanzooError, match="test_sources=cat must name some, not all, of .*unknown: cat"):
        build("skimage-patches", options={"test_sources": "cat"})
    with pytest.raises(GanzooError, match="must name some, not all"):
        build("skimage-patches", options={"test_sources": ",".join(SOURCES)})


@needs_mnist
def test_mnist_reads_real_test_set(monkeypatch):
    from ganzoo_plugins.datasets import mnist

    monkeypatch.setattr(mnist, "_WARNED", set())  # an earlier test in this process may have read these files
    with pytest.warns(UserWarning, match="t10k"):
        ds = build("mnist", root=str(MNIST_DIR), image_size=28)
    assert len(ds) == 10000
    counts = Counter(int(ds[i]["label"]) for i in range(len(ds)))
    assert [counts[d] for d in range(10)] == MNIST_TEST_COUNTS
    check_item(ds[0], 1, 28)
    assert int(ds[0]["label"]) == 7  # the first t10k digit
    assert ds[0]["image"].min() == -1 and ds[0]["image"].max() == 1


@needs_mnist
def test_mnist_holdout_resize_and_channels(monkeypatch):
    from ganzoo_plugins.datasets import mnist

    monkeypatch.setattr(mnist, "_WARNED", set())
    with pytest.warns(UserWarning, match="last 1000"):
        train = build("mnist", root=str(MNIST_DIR), image_size=32, channels=3, options={"holdout": 1000})
    test = build("mnist", root=str(MNIST_DIR), image_size=32, split="test", options={"holdout": 1000})
    assert len(train) == 9000 and len(test) == 1000
    check_item(train[0], 3, 32)
    check_item(test[0], 1, 32)
    with pytest.warns(UserWarning):
        full = build("mnist", root=str(MNIST_DIR), image_size=32)
    assert torch.equal(test[0]["image"], full[9000]["image"])
    assert torch.equal(train[8999]["image"][0], full[8999]["image"][0])
    with pytest.warns(UserWarning, match="so 'test' is the t10k files a run here trains on: scores on it measure fit"):
        assert len(build("mnist", root=str(MNIST_DIR), split="test")) == 10000  # no holdout: the t10k files
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once per process, not at every --eval-every evaluation or bench row
        build("mnist", root=str(MNIST_DIR), split="test")
        build("mnist", root=str(MNIST_DIR), image_size=32, channels=3, options={"holdout": 1000})
    with pytest.raises(GanzooError, match="holdout"):
        build("mnist", root=str(MNIST_DIR), split="test", options={"holdout": 10000})


@needs_mnist
def test_mnist_train_size_keeps_the_first_training_digits_and_the_same_test_split():
    small = build("mnist", root=str(MNIST_DIR), options={"holdout": 2000, "train_size": 1000})
    full = build("mnist", root=str(MNIST_DIR), options={"holdout": 2000})
    assert len(small) == 1000 and len(full) == 8000 and torch.equal(small[999]["image"], full[999]["image"])
    test = build("mnist", root=str(MNIST_DIR), split="test", options={"holdout": 2000, "train_size": 1000})
    assert len(test) == 2000
    with pytest.raises(GanzooError, match="train_size must be between 0 \\(all\\) and 8000, got 9000"):
        build("mnist", root=str(MNIST_DIR), options={"holdout": 2000, "train_size": 9000})


def test_mnist_root_from_environment(monkeypatch):
    monkeypatch.setenv("GANZOO_MNIST_ROOT", str(MNIST_DIR))
    assert len(build("mnist", split="test")) == 10000


def test_mnist_missing_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("GANZOO_MNIST_ROOT", raising=False)
    missing = tmp_path / "nowhere"
    with pytest.raises(GanzooError, match="--data-root") as info:
        build("mnist", root=str(missing))
    assert str(missing) in str(info.value) and "t10k-images-idx3-ubyte" in str(info.value)


def test_mnist_uncompressed_train_files_and_corruption(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28))
    write_idx(tmp_path / "train-images-idx3-ubyte", images, 0x803)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(5), 0x801)
    ds = build("mnist", root=str(tmp_path), image_size=28)  # train-* present: no warning expected
    assert len(ds) == 5 and [int(ds[i]["label"]) for i in range(5)] == [0, 1, 2, 3, 4]
    assert torch.equal(((ds[2]["image"][0] + 1) * 127.5).round(), torch.tensor(images[2], dtype=torch.float32))

    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(5), 0x803)
    with pytest.raises(GanzooError, match="train-labels-idx1-ubyte.*magic"):
        build("mnist", root=str(tmp_path))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(5), 0x801)
    (tmp_path / "train-images-idx3-ubyte").write_bytes((tmp_path / "train-images-idx3-ubyte").read_bytes()[:-10])
    with pytest.raises(GanzooError, match="train-images-idx3-ubyte.*truncated"):
        build("mnist", root=str(tmp_path))


def make_folder(root: Path) -> None:
    rng = np.random.default_rng(0)
    for cls, count in (("cats", 3), ("dogs", 2)):
        (root / cls).mkdir(parents=True)
        for i in range(count):
            skimage.io.imsave(root / cls / f"{i}.PNG", rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))


def test_folder_labels_from_subfolders(tmp_path):
    make_folder(tmp_path)
    ds = build("folder", root=str(tmp_path), image_size=16)
    assert len(ds) == 5 and ds.classes == ["cats", "dogs"]
    assert [int(ds[i]["label"]) for i in range(5)] == [0, 0, 0, 1, 1]
    check_item(ds[4], 3, 16)


def test_folder_flat_grayscale_is_unlabelled_one_channel(tmp_path, monkeypatch):
    for i in range(3):
        skimage.io.imsave(tmp_path / f"{i}.png", np.full((10, 10), 40 * i, dtype=np.uint8), check_contrast=False)
    ds = build("folder", root=str(tmp_path), image_size=8)
    check_item(ds[0], 1, 8)
    assert {int(ds[i]["label"]) for i in range(3)} == {-1}
    check_item(build("folder", root=str(tmp_path), image_size=8, channels=3)[1], 3, 8)
    from ganzoo.engine.config import RunConfig
    from ganzoo.engine.trainer import assemble

    from ganzoo import data

    verified = []
    monkeypatch.setattr(data, "verify_image", lambda path: verified.append(path) or 1)
    monkeypatch.setattr(data, "_CHANNELS", {})  # as in a new process
    run = assemble(RunConfig(dataset="folder", data_root=str(tmp_path), width=8))
    assert run.config.channels == 1, "a run on gray scans trains gray, as --channels' help says: the dataset's own"
    data.load_split(run.config, "train")  # what the trainer loads next
    assert sorted(verified) == sorted(tmp_path.glob("*.png")), "each header read once, not once per load"


def test_folder_corrupt_image(tmp_path):
    make_folder(tmp_path)
    bad = tmp_path / "dogs" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    with pytest.raises(GanzooError, match="--skip-bad-images") as info:
        build("folder", root=str(tmp_path))
    assert str(bad) in str(info.value)
    with pytest.warns(UserWarning, match="broken.png"):
        ds = build("folder", root=str(tmp_path), skip_bad_images=True)
    assert len(ds) == 5 and bad not in ds.files


def test_folder_empty_and_missing(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(GanzooError, match="no images"):
        build("folder", root=str(tmp_path))
    with pytest.raises(GanzooError, match="does not exist"):
        build("folder", root=str(tmp_path / "missing"))
    with pytest.raises(GanzooError, match="--data-root"):
        build("folder")


def test_list_images_recursive_sorted_case_insensitive(tmp_path):
    for name in ("b/2.JPG", "a.png", "b/1.tiff", ".hidden/x.png", "b/._junk.png", "c.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)] == ["a.png", "b/1.tiff", "b/2.JPG"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # imageio probes legacy plugins on garbage input
def test_read_image_channel_conversion_and_errors(tmp_path):
    rgba = np.zeros((6, 8, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 128
    skimage.io.imsave(tmp_path / "rgba.png", rgba, check_contrast=False)
    image = read_image(tmp_path / "rgba.png")
    assert image.shape == (3, 6, 8) and image[0].eq(1).all() and image[1].eq(-1).all()
    gray = read_image(tmp_path / "rgba.png", channels=1)
    assert gray.shape == (1, 6, 8) and torch.allclose(gray, torch.full_like(gray, 0.2125 * 2 - 1))
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    with pytest.raises(GanzooError, match=r"bad.jpg .*\. Fix or remove the file\.$"):  # no training hint here
        read_image(tmp_path / "bad.jpg")


def test_save_image_round_trip(tmp_path):
    image = torch.rand(3, 9, 7) * 2 - 1
    path = save_image(image, tmp_path / "deep" / "one.png")
    assert torch.allclose(read_image(path), image, atol=1 / 127.5)
    assert to_uint8(image[:1]).shape == (9, 7) and to_uint8(image).dtype == np.uint8


@pytest.mark.parametrize("channels", [1, 3])
def test_save_grid_pixel_size(tmp_path, channels):
    images = torch.rand(10, channels, 16, 12) * 2 - 1
    path = save_grid(images, tmp_path / "grids" / "g.png", nrow=4, padding=2)
    array = skimage.io.imread(path)
    height, width = 3 * (16 + 2) + 2, 4 * (12 + 2) + 2
    assert array.shape == ((height, width) if channels == 1 else (height, width, 3))
    assert array.dtype == np.uint8
    assert skimage.io.imread(save_grid(images[:9], tmp_path / "sq.png")).shape[:2] == (3 * 18 + 2, 3 * 14 + 2)


def test_resize_crops_centre_and_keeps_range():
    image = torch.rand(3, 40, 60) * 2 - 1
    out = resize(image, 32)
    assert out.shape == (3, 32, 32) and out.min() >= -1 and out.max() <= 1
    assert resize(image.unsqueeze(0), 20).shape == (1, 3, 20, 20)
    assert resize(out, 32) is out


def test_torchvision_without_files_asks_for_download(tmp_path):
    for name in ("cifar10", "fashion-mnist", "celeba"):
        with pytest.raises(GanzooError, match="--download") as info:
            build(name, root=str(tmp_path))
        assert "--data-root" in str(info.value)


def test_torchvision_reads_existing_files(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix in ("train", "t10k"):  # torchvision wants all four files
        write_idx(raw / f"{prefix}-images-idx3-ubyte", np.full((4, 28, 28), 255), 0x803)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.array([3, 1, 4, 1]), 0x801)
    ds = build("fashion-mnist", root=str(tmp_path), split="test", image_size=32)
    assert len(ds) == 4 and int(ds[2]["label"]) == 4
    check_item(ds[0], 1, 32)
    assert ds[0]["image"].eq(1).all()


def make_labelled_tree(root: Path, counts: dict[str, int]) -> None:
    """``root/<class>/<i>.png``: tiny RGB images, one subfolder per class."""
    rng = np.random.default_rng(1)
    for cls, count in counts.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            skimage.io.imsave(root / cls / f"{i}.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))


def test_folder_two_subfolders_are_classes_counted_before_building(tmp_path):
    from ganzoo_plugins.datasets.folder import count_classes

    make_labelled_tree(tmp_path, {"b": 2, "a": 3})
    (tmp_path / "a" / "deeper").mkdir()
    skimage.io.imsave(tmp_path / "a" / "deeper" / "x.png", np.zeros((8, 8, 3), dtype=np.uint8),
                      check_contrast=False)
    ds = build("folder", root=str(tmp_path), image_size=8)
    assert ds.classes == ["a", "b"] and count_classes(DataOptions(root=str(tmp_path))) == 2
    assert [int(ds[i]["label"]) for i in range(len(ds))] == [0, 0, 0, 0, 1, 1]  # a/0-2, a/deeper/x, b/0-1
    assert all(ds[i]["label"].dtype == torch.long for i in range(len(ds)))


def test_folder_flat_mixed_or_single_subfolder_is_unlabelled(tmp_path):
    from ganzoo_plugins.datasets.folder import count_classes

    flat, mixed, single = tmp_path / "flat", tmp_path / "mixed", tmp_path / "single"
    make_labelled_tree(tmp_path, {"flat": 3, "single/only": 2})
    make_labelled_tree(mixed, {"a": 2, "b": 2})
    skimage.io.imsave(mixed / "loose.png", np.zeros((8, 8, 3), dtype=np.uint8), check_contrast=False)
    for root in (flat, mixed, single):
        ds = build("folder", root=str(root), image_size=8)
        assert ds.classes == [] and count_classes(DataOptions(root=str(root))) == 0, root
        assert {int(ds[i]["label"]) for i in range(len(ds))} == {-1}, root
    with pytest.raises(GanzooError, match="missing"):
        count_classes(DataOptions(root=str(tmp_path / "missing")))


def test_cli_conditional_and_features_train_on_a_labelled_folder(tmp_path):
    from click.testing import CliRunner

    from ganzoo.cli import cli

    root = tmp_path / "imgs"
    make_labelled_tree(root, {"a": 4, "b": 4})
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "--task", "conditional", "--dataset", "folder", "--data-root", str(root),
                                 "--steps", "2", "--width", "8", "--batch-size", "4", "--no-progress",
                                 "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "checkpoint.safetensors").exists()
    result = runner.invoke(cli, ["features", "train", "--dataset", "folder", "--data-root", str(root), "--steps", "1",
                                 "--image-size", "8", "--width", "4", "--batch-size", "4",
                                 "--out", str(tmp_path / "clf.safetensors")])
    assert result.exit_code == 0, result.output
    assert "2 classes" in result.output
    assert "no separate 'test' split" not in result.output, "features train keeps a fifth of a folder out"
    flat = tmp_path / "flat"
    make_labelled_tree(tmp_path, {"flat": 4})
    result = runner.invoke(cli, ["train", "--task", "conditional", "--dataset", "folder", "--data-root", str(flat),
                                 "--steps", "1", "--width", "8", "--batch-size", "4", "--no-progress",
                                 "--out", str(tmp_path / "run2")])
    assert result.exit_code != 0 and "has no classes" in result.output


def test_folder_test_split_is_the_training_images_unless_a_fraction_is_kept_out(tmp_path):
    from ganzoo.images import save_image

    for i in range(8):
        save_image(torch.rand(3, 8, 8) * 2 - 1, tmp_path / ("ab"[i % 2]) / f"{i}.png")
    with pytest.warns(GanzooWarning, match="no separate 'test' split; it reads the training images.*test_fraction"):
        assert len(build("folder", root=str(tmp_path), image_size=8, split="test")) == 8
    kept_out = {"test_fraction": 0.25}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train = build("folder", root=str(tmp_path), image_size=8, options=kept_out)
        test = build("folder", root=str(tmp_path), image_size=8, split="test", options=kept_out)
    assert (len(train), len(test)) == (6, 2)
    assert not set(train.files) & set(test.files) and set(train.files) | set(test.files) == set(
        build("folder", root=str(tmp_path), image_size=8).files)
    assert train.classes == test.classes == ["a", "b"], "classes come from the whole folder"
    again = build("folder", root=str(tmp_path), image_size=8, split="test", seed=5, options=kept_out)
    assert again.files == test.files, "the split does not depend on the run's seed"
    with pytest.raises(GanzooError, match="test_fraction=1.5: dataset 'folder' needs a share between 0 and 1"):
        build("folder", root=str(tmp_path), image_size=8, options={"test_fraction": 1.5})


@pytest.mark.parametrize("item, message", [
    ((torch.zeros(3, 8, 8), 0), "dataset 'mine' yields a tuple, not a dict"),
    ({"image": torch.full((3, 8, 8), 255.0), "label": 0}, "yields 'image' as torch.float32 in [255, 255]; images must "
                                                          "be float in [-1, 1]"),
    ({"image": torch.zeros(3, 8, 8, dtype=torch.uint8)}, "yields 'image' as torch.uint8"),
    ({"image": torch.zeros(1, 8, 8)}, "yields 'image' of shape (1, 8, 8) where --channels 3 --image-size 8 asks for "
                                      "(3, 8, 8)"),
    ({"image": torch.zeros(3, 16, 16)}, "yields 'image' of shape (3, 16, 16) where --channels 3 --image-size 8"),
])
def test_a_plugin_dataset_whose_items_break_the_layout_is_refused_at_load_naming_it(item, message):
    spec = ganzoo.DatasetSpec(build=lambda options: [item, item], description="a plugin's mistake")
    with pytest.raises(GanzooError) as caught:
        spec.load("mine", DataOptions(image_size=8, channels=3))
    assert message in str(caught.value)


@pytest.mark.parametrize("label, given", [(None, "no 'label'"), (7, "label 7"), (-1, "label -1"),
                                          (torch.tensor(0.0), "label tensor(0.)")])
def test_a_plugin_dataset_with_classes_yields_labels_in_range(label, given):
    item = {"image": torch.zeros(3, 8, 8), **({} if label is None else {"label": label})}
    spec = ganzoo.DatasetSpec(build=lambda options: [item], description="two classes", num_classes=2)
    with pytest.raises(GanzooError, match=rf"^dataset 'mine' declares num_classes=2 but yields {re.escape(given)}; "
                                          r"each item needs an int 'label' from 0 to 1; fix the plugin$"):
        spec.load("mine", DataOptions(image_size=8, channels=3))
    for fine in (1, torch.tensor(1), np.int64(1)):  # an int, as a tensor or numpy scalar too
        labelled = ganzoo.DatasetSpec(build=lambda options, fine=fine: [{"image": torch.zeros(3, 8, 8), "label": fine}],
                                      description="two classes", num_classes=2)
        assert len(labelled.load("mine", DataOptions(image_size=8, channels=3))) == 1


def test_a_negative_size_is_refused_in_one_line():
    with pytest.raises(GanzooError, match="dataset 'shapes': --data-opt n is how many items it draws, at least 1; "
                                          "got -3"):
        ganzoo.get("datasets", "shapes").load("shapes", DataOptions(options={"n": -3}))

    class Negative(list):
        def __len__(self) -> int:
            return -1

    spec = ganzoo.DatasetSpec(build=lambda options: Negative(), description="a plugin's mistake")
    with pytest.raises(GanzooError, match="dataset 'mine' cannot say how many items it has"):
        spec.load("mine", DataOptions())


def test_a_plugin_datasets_own_keys_are_its_own_only_the_layouts_images_are_checked():
    item = {"image": torch.zeros(3, 8, 8), "mask": torch.ones(1, 8, 8, dtype=torch.bool), "label": 0}
    spec = ganzoo.DatasetSpec(build=lambda options: [item], description="an image with a mask of its own")
    assert len(spec.load("mine", DataOptions(image_size=8, channels=3))) == 1
    paired = ganzoo.DatasetSpec(build=lambda options: [{"A": torch.zeros(3, 8, 8)}], description="B is missing",
                                layout="aligned")
    with pytest.raises(GanzooError, match="dataset 'mine' \\(layout 'aligned'\\) yields no 'B' image"):
        paired.load("mine", DataOptions(image_size=8, channels=3))
