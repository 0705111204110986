"""Metric plugins on inputs whose answer is known, the feature classifier and the Stacked MNIST dataset."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import ganzoo
from ganzoo.api import DataOptions, GanzooError, GanzooWarning
from ganzoo.engine.checkpoint import load_checkpoint, save_checkpoint
from ganzoo.metrics import ImageSet, check_heldout, embed, evaluate_generator, resolve_metrics, score
from ganzoo_plugins.metrics.classifier import DomainClassifier, load_classifier, train_classifier
from ganzoo_plugins.metrics.prdc import density_coverage, precision_recall


def metric(name: str, **options):
    return ganzoo.get("metrics", name)(**options)


def features(x: torch.Tensor) -> ImageSet:
    return ImageSet(torch.zeros(len(x), 1, 2, 2), features=x)


def logits_for(labels: list[int], num_classes: int) -> ImageSet:
    """Confident logits whose argmax is ``labels``."""
    logits = torch.full((len(labels), num_classes), -20.0)
    logits[torch.arange(len(labels)), torch.tensor(labels)] = 20.0
    return ImageSet(torch.zeros(len(labels), 1, 2, 2), logits=logits)


def test_all_metrics_registered():
    names = {e.name for e in ganzoo.list("metrics")}
    assert {"fid", "kid", "is", "pr", "dc", "modes", "stacked-mnist", "memorization"} <= names


def test_fid_identical_sets_is_zero_and_a_mean_shift_gives_its_square():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(4000, 8, generator=gen)
    assert metric("fid").compute(features(real), features(real))["fid"] == pytest.approx(0.0, abs=1e-3)
    shift = torch.tensor([3.0, 0, 0, 0, 4.0, 0, 0, 0])  # |shift|^2 = 25, same covariance
    fake = torch.randn(4000, 8, generator=gen) + shift
    assert metric("fid").compute(features(real), features(fake))["fid"] == pytest.approx(25.0, rel=0.05)


def test_fid_and_kid_separate_disjoint_image_classes_through_a_feature_module():
    """Two samples of one image class are close; two different classes are far apart."""
    gen = torch.Generator().manual_seed(0)

    def images(left: bool, n: int = 300) -> torch.Tensor:
        x = torch.rand(n, 1, 28, 28, generator=gen) * 0.4 - 1
        x[..., :14] += 1.2 if left else 0.0
        x[..., 14:] += 0.0 if left else 1.2
        return x.clamp(-1, 1)

    torch.manual_seed(0)
    net = DomainClassifier(1, 10, 28, width=4)
    a1, a2, b = (embed(images(side), net, torch.device("cpu")) for side in (True, True, False))
    fid_same = metric("fid").compute(a1, a2)["fid"]
    fid_diff = metric("fid").compute(a1, b)["fid"]
    assert fid_diff > 50 * fid_same
    kid = metric("kid", subsets=20, subset_size=200)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        kid_same, kid_diff = kid.compute(a1, a2)["kid_x1000"], kid.compute(a1, b)["kid_x1000"]
    assert abs(kid_same) < 0.05 * kid_diff


def unbiased_poly_mmd(x: torch.Tensor, y: torch.Tensor) -> float:
    """KID's unbiased MMD^2 with the cubic polynomial kernel (x.y / d + 1)^3, by hand."""
    k = lambda a, b: (a.double() @ b.double().T / a.shape[1] + 1) ** 3  # noqa: E731
    m = len(x)
    off = lambda kk: (kk.sum() - kk.diagonal().sum()) / (m * (m - 1))  # noqa: E731
    return float(off(k(x, x)) + off(k(y, y)) - 2 * k(x, y).mean())


def test_kid_is_reported_times_1000_and_its_key_says_so():
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(3, 4, generator=gen), torch.randn(3, 4, generator=gen) + 1
    with pytest.warns(GanzooWarning, match="kid: 3 samples are too few for distinct subsets"):
        result = metric("kid", subsets=5).compute(features(real), features(fake))
    assert set(result) == {"kid_x1000"}, "no std where every subset is the whole set"
    assert result["kid_x1000"] == pytest.approx(1000 * unbiased_poly_mmd(real, fake), rel=1e-6)


def test_kid_std_at_small_n_comes_from_distinct_subsets():
    """-n 60 against 60 real: subsets of 30 (not all 60, the same set each time), so the std measures something."""
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(60, 4, generator=gen), torch.randn(60, 4, generator=gen) + 0.5
    with torch.random.fork_rng():
        torch.manual_seed(0)
        result = metric("kid", subsets=50).compute(features(real), features(fake))
    whole = 1000 * unbiased_poly_mmd(real, fake)
    assert 0.02 * whole < result["kid_x1000_std"] < whole
    assert result["kid_x1000"] == pytest.approx(whole, rel=0.3), "unbiased at any subset size"


def test_inception_score_counts_confidently_used_classes():
    torch.manual_seed(0)  # InceptionScore shuffles before splitting
    assert metric("is", splits=2).compute(None, logits_for(list(range(10)) * 50, 10))["is"] == pytest.approx(10, rel=0.05)
    assert metric("is", splits=2).compute(None, logits_for([3] * 200, 10))["is"] == pytest.approx(1, rel=1e-3)


def test_precision_recall_density_coverage_on_a_hand_worked_example():
    """Real points 0..4 on a line, k=1: every real ball has radius 1; fakes at 0.5 and 10."""
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0], [4.0]])
    fake = torch.tensor([[0.5], [10.0]])
    precision, recall = precision_recall(real, fake, k=1)
    assert precision == pytest.approx(0.5)  # 0.5 is inside the balls of 0 and 1; 10 is in none
    assert recall == pytest.approx(1.0)  # the fakes' radius is 9.5: every real point is within it
    density, coverage = density_coverage(real, fake, k=1)
    assert density == pytest.approx(1.0)  # (2 balls + 0 balls) / (k * 2 fakes)
    assert coverage == pytest.approx(0.4)  # only the balls of 0 and 1 hold a fake


def test_precision_recall_see_mode_collapse_on_point_clouds():
    gen = torch.Generator().manual_seed(0)
    real = torch.cat([torch.randn(300, 2, generator=gen), torch.randn(300, 2, generator=gen) + 20])
    same = torch.cat([torch.randn(300, 2, generator=gen), torch.randn(300, 2, generator=gen) + 20])
    collapsed = torch.randn(600, 2, generator=gen)  # one of the two modes only
    far = torch.randn(600, 2, generator=gen) + 100
    pr, dc = metric("pr"), metric("dc")
    good = {**pr.compute(features(real), features(same)), **dc.compute(features(real), features(same))}
    assert good["precision"] > 0.9 and good["recall"] > 0.9 and good["coverage"] > 0.9
    assert 0.8 < good["density"] < 1.2
    half = {**pr.compute(features(real), features(collapsed)), **dc.compute(features(real), features(collapsed))}
    assert half["precision"] > 0.9 and 0.4 < half["recall"] < 0.55 and 0.4 < half["coverage"] < 0.55
    none = {**pr.compute(features(real), features(far)), **dc.compute(features(real), features(far))}
    assert none == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_mode_counter_on_a_known_histogram():
    real = logits_for(list(range(10)) * 10, 10)  # uniform over 10 classes
    fake = logits_for([0] * 50 + [1] * 50, 10)  # two classes, half each
    result = metric("modes").compute(real, fake)
    assert result["modes_covered"] == 2 and result["modes_total"] == 10
    assert result["modes_kl"] == pytest.approx(math.log(5), rel=1e-6)  # sum 0.5 log(0.5 / 0.1)
    assert metric("modes").compute(real, real)["modes_kl"] == pytest.approx(0.0, abs=1e-12)
    assert metric("modes", min_count=51).compute(real, fake)["modes_covered"] == 0


def test_mode_counter_reports_the_classifiers_confidence():
    sure = logits_for([0, 1], 2)
    unsure = ImageSet(torch.zeros(2, 1, 4, 4), torch.zeros(2, 2), torch.tensor([[0.0, 0.0], [math.log(3), 0.0]]))
    result = metric("modes").compute(sure, unsure)
    assert result["confidence"] == pytest.approx((0.5 + 0.75) / 2)  # softmax of (0, 0) and (log 3, 0)
    assert result["confidence_real"] > 0.99


def test_stacked_mnist_metric_counts_modes_and_kl_to_uniform():
    fake = logits_for([i * 10 for i in range(100)] * 3, 1000)  # 100 modes, evenly
    result = metric("stacked-mnist").compute(None, fake)
    assert result["stacked_modes"] == 100
    assert result["stacked_kl"] == pytest.approx(math.log(10), rel=1e-6)  # log(1000 / 100)
    assert result["stacked_kl_digits"] == pytest.approx(math.log(10), rel=1e-6)  # the last digit is always 0
    mixed = metric("stacked-mnist").compute(None, logits_for([0, 111, 222, 333, 444, 555, 666, 777, 888, 999], 1000))
    assert mixed["stacked_kl_digits"] == pytest.approx(0, abs=1e-9) and mixed["stacked_kl"] == pytest.approx(
        math.log(100)), "every digit as often in every channel, but only 10 of the 1000 triples"
    assert result["stacked_confidence"] > 0.99
    noise = ImageSet(torch.zeros(2, 3, 4, 4), torch.zeros(2, 2), torch.zeros(2, 1000))  # every class equally likely
    assert metric("stacked-mnist").compute(None, noise)["stacked_confidence"] == pytest.approx(1e-3)
    with pytest.raises(GanzooError, match="1000-class"):
        metric("stacked-mnist").compute(None, logits_for([1, 2], 10))
    assert ganzoo.get("metrics", "stacked-mnist").num == 26000


def test_memorization_ratio_flags_copies():
    gen = torch.Generator().manual_seed(0)
    train = ImageSet(torch.rand(200, 1, 8, 8, generator=gen) * 2 - 1)
    heldout = ImageSet(torch.rand(100, 1, 8, 8, generator=gen) * 2 - 1)
    copies = ImageSet(train.images[:100].clone())
    fresh = ImageSet(torch.rand(100, 1, 8, 8, generator=gen) * 2 - 1)
    m = metric("memorization")
    copied = m.compute(heldout, copies, train)
    assert copied["memorization_ratio"] == 0.0 and copied["memorization_copies"] == 1.0
    honest = m.compute(heldout, fresh, train)
    assert 0.9 < honest["memorization_ratio"] < 1.1 and honest["memorization_copies"] < 0.05
    assert honest["heldout_overlap"] == 0.0
    assert m.compute(copies, fresh, train)["heldout_overlap"] == 1.0


def test_memorization_refuses_a_heldout_split_that_was_trained_on():
    gen = torch.Generator().manual_seed(0)
    train = ImageSet(torch.rand(300, 1, 8, 8, generator=gen) * 2 - 1)
    fresh = torch.rand(200, 1, 8, 8, generator=gen) * 2 - 1
    chosen = resolve_metrics("memorization")
    check_heldout(chosen, "mnist", ImageSet(fresh), train)  # disjoint: fine
    with pytest.warns(GanzooWarning, match="1 of the 200 held-out"):
        check_heldout(chosen, "mnist", ImageSet(torch.cat([train.images[:1], fresh[1:]])), train)
    with pytest.raises(GanzooError, match="100 of the 200 .*memorization.*--data-opt holdout=2000"):
        check_heldout(chosen, "mnist", ImageSet(torch.cat([train.images[:100], fresh[100:]])), train)
    with pytest.raises(GanzooError, match="'test' split holds images the run was not trained on"):
        check_heldout(chosen, "shapes", ImageSet(train.images[:50]), train)


@pytest.mark.filterwarnings("ignore:mnist. no train")
def test_eval_checks_the_heldout_split_and_the_sample_count_before_sampling(fake_mnist):
    """MNIST without holdout scores t10k against itself; no generator is touched before the refusal."""
    config = SimpleNamespace(dataset="mnist", data_root=str(fake_mnist), image_size=28, channels=1,
                             data_options={"holdout": 0}, seed=0)
    task, cpu = SimpleNamespace(config=config), torch.device("cpu")
    with pytest.raises(GanzooError, match="16 of the 16 held-out 'mnist' images are also in the training split"):
        evaluate_generator(task, {}, cpu, metrics="memorization", num=16)
    with pytest.raises(GanzooError, match=r"-n 1 .*fid needs at least 2, kid needs at least 2; pass a larger -n"):
        evaluate_generator(task, {}, cpu, metrics="fid,kid", num=1)
    with pytest.raises(GanzooError, match=r"-n 5 .*: dc needs at least 6;"):
        evaluate_generator(task, {}, cpu, metrics="pr,dc", num=5)
    assert resolve_metrics(["pr"], {"pr.k": 7})["pr"].min_samples() == 8


@pytest.mark.filterwarnings("ignore:mnist. no train")
def test_evaluation_draws_its_samples_without_autograd(fake_mnist, monkeypatch):
    """Scoring thousands of samples must not keep G's graph for each (memory grows with -n otherwise)."""
    monkeypatch.setattr("ganzoo.metrics.check_heldout", lambda *args: None)  # fake_mnist repeats 10 images
    config = SimpleNamespace(dataset="mnist", data_root=str(fake_mnist), image_size=28, channels=1,
                             data_options={"holdout": 20}, seed=0)
    G = torch.nn.Linear(4, 28 * 28)
    drawn = []

    def samples(nets, fixed):
        out = nets["G"](fixed["z"]).view(-1, 1, 28, 28).tanh()
        drawn.append(out.requires_grad)
        return out

    task = SimpleNamespace(config=config, samples=samples,
                           fixed_inputs=lambda ctx, batch, n: {"z": torch.randn(n, 4, generator=ctx.generator)})
    result = evaluate_generator(task, {"G": G}, torch.device("cpu"), metrics="memorization", num=16)
    assert "memorization_ratio" in result and drawn == [False]


def test_score_is_seeded_and_leaves_the_callers_rng_alone():
    gen = torch.Generator().manual_seed(0)
    real, fake = features(torch.randn(300, 4, generator=gen)), features(torch.randn(300, 4, generator=gen) + 1)
    metrics = resolve_metrics(["kid"], {"kid.subset_size": 100, "kid.subsets": 5})
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = score(metrics, real, fake, None, seed=1)
    assert torch.equal(torch.get_rng_state(), before)
    assert score(metrics, real, fake, None, seed=1) == first


def test_metric_names_and_options_are_checked():
    with pytest.raises(GanzooError, match="Did you mean: fid"):
        resolve_metrics("fdi")
    with pytest.raises(GanzooError, match="radius: metric 'pr' has no such option .its options: k=3"):
        resolve_metrics(["pr"], {"pr.radius": 2})
    with pytest.raises(GanzooError, match="compute: .* no such option"):  # methods are not options
        resolve_metrics(["pr"], {"pr.compute": 2})
    with pytest.raises(GanzooError, match="k=abc: .* expects an integer"):
        resolve_metrics(["pr"], {"pr.k": "abc"})
    with pytest.raises(GanzooError, match="not in --metrics"):
        resolve_metrics(["pr"], {"kid.subsets": 2})
    assert resolve_metrics(["pr"], {"pr.k": 5})["pr"].k == 5


def test_classifier_trains_saves_and_round_trips(tmp_path):
    path = train_classifier("shapes", None, tmp_path / "clf.safetensors", image_size=16, epochs=1, steps=3,
                            batch_size=16, width=4, data_options={"n": 48}, limit=48)
    model = load_classifier(path)
    assert model.meta["dataset"] == "shapes" and model.meta["num_classes"] == 4 and model.meta["channels"] == 3
    assert 0.0 <= model.meta["test_accuracy"] <= 1.0 and model.meta["test_images"] == 48
    x = torch.rand(5, 3, 32, 32) * 2 - 1  # any size: resized to the classifier's 16 px
    assert model.features(x).shape == (5, model.num_features) == (5, 16)
    assert model(x).shape == (5, 4) and model.predict(x).shape == (5,)
    again = load_classifier(path)
    torch.testing.assert_close(model(x), again(x))
    with pytest.raises(GanzooError, match="trained on 3-channel"):
        model.features(torch.zeros(2, 1, 16, 16))


def test_a_classifier_nearer_chance_than_perfect_is_said_to_mean_little(tmp_path):
    path = train_classifier("shapes", None, tmp_path / "clf.safetensors", image_size=16, epochs=1, steps=3,
                            batch_size=16, width=4, data_options={"n": 48}, limit=48)
    tensors, meta = load_checkpoint(path)
    for accuracy, weak in ((0.62, True), (0.63, False)):  # 4 classes: halfway from chance (25%) to 100% is 62.5%
        forged = save_checkpoint(tmp_path / f"{accuracy}.safetensors", tensors, {**meta, "test_accuracy": accuracy})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            load_classifier(forged)
        said = [str(w.message) for w in caught if issubclass(w.category, GanzooWarning)]
        assert said == ([f"classifier '{forged}' gets only 62.0% of held-out images right (25% is chance): its "
                         "features barely tell the classes apart, so FID, KID and the other figures it scores mean "
                         "little; train it longer (more --epochs, no --limit)"] if weak else [])


def test_classifier_load_errors_are_clear(tmp_path):
    with pytest.raises(GanzooError, match="ganzoo features train"):
        load_classifier(tmp_path / "missing.safetensors")
    other = save_checkpoint(tmp_path / "run.safetensors", {"w": torch.zeros(1)}, {"config": {}})
    with pytest.raises(GanzooError, match="not a feature classifier"):
        load_classifier(other)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(bytes(range(256)) * 16)  # its header length reads as petabytes
    with pytest.raises(GanzooError, match="not a safetensors file.*ganzoo features train") as err:
        load_classifier(garbage)
    assert str(garbage) in str(err.value)


def test_inception_refuses_a_file_that_is_not_its_weights(tmp_path):
    pytest.importorskip("torch_fidelity")
    from ganzoo_plugins.metrics.inception import WEIGHTS_URL, load_inception

    garbage = tmp_path / "fake.pth"
    garbage.write_bytes(b"(not the weights)" * 64)
    with pytest.raises(GanzooError, match="is not the FID Inception weights file") as err:
        load_inception(f"inception:{garbage}")
    assert str(garbage) in str(err.value) and WEIGHTS_URL in str(err.value)


class _OpensAFile:
    """A pickle that runs code when unpickled: opens (creates) a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_inception_weights_that_would_run_code_are_refused_unrun(tmp_path):
    pytest.importorskip("torch_fidelity")
    from ganzoo_plugins.metrics.inception import load_inception

    marker, crafted = tmp_path / "ran", tmp_path / "crafted.pth"
    torch.save({"conv.weight": _OpensAFile(marker)}, crafted)
    with pytest.raises(GanzooError, match="is not the FID Inception weights file"):
        load_inception(f"inception:{crafted}")
    assert not marker.exists(), "loading must never execute code from the file"


def test_per_channel_classifier_reads_a_digit_triple():
    """A stacked classifier's label is 100*d_R + 10*d_G + d_B of its per-channel digit predictions."""
    torch.manual_seed(0)
    model = DomainClassifier(3, 1000, 28, width=4, per_channel=True).eval()
    x = torch.rand(6, 3, 28, 28) * 2 - 1
    digits = torch.stack([model.net(x[:, c:c + 1])[1].argmax(1) for c in range(3)], dim=1)
    assert model.predict(x).tolist() == (digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]).tolist()
    assert torch.exp(model(x)).sum(1).sub(1).abs().max() < 1e-4  # a proper distribution over 1000 modes
    assert model.features(x).shape == (6, 3 * 16)


@pytest.mark.filterwarnings("ignore:mnist. no train")
def test_stacked_mnist_dataset_stacks_three_digits(fake_mnist):
    spec = ganzoo.get("datasets", "stacked-mnist")
    assert spec.channels == 3 and spec.num_classes == 1000
    ds = spec.load("stacked-mnist", DataOptions(root=str(fake_mnist), image_size=28, options={"n": 50, "holdout": 20}))
    assert len(ds) == 50
    for i in range(0, 50, 7):
        item = ds[i]
        assert item["image"].shape == (3, 28, 28)
        digits = [round(((item["image"][c, 0, 0].item() + 1) * 127.5) / 20) for c in range(3)]
        assert int(item["label"]) == 100 * digits[0] + 10 * digits[1] + digits[2]
        torch.testing.assert_close(ds[i]["image"], item["image"])  # deterministic per index
    labels = {int(ds[i]["label"]) for i in range(50)}
    assert len(labels) > 30  # independent digits per channel, not one triple
    with pytest.raises(GanzooError, match="3 channels"):
        spec.load("stacked-mnist", DataOptions(root=str(fake_mnist), channels=1))
