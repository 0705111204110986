"""Is ganzoo's fill better than biharmonic's, or a tie? Per-image hole PSNR differences, per area bin, with a
bootstrap interval.

`inpainting_masks.py` compares bin means; where they are within a few hundredths of a dB, this says whether the
difference is more than noise: for each held-out image, ganzoo's hole PSNR minus `inpaint_biharmonic`'s, in one
pass and with the self-ensemble, and per 10% area bin the mean, its 95% bootstrap interval and the share of images
where ganzoo's fill is the better one.

    OMP_NUM_THREADS=1 python benchmarks/inpainting_paired.py runs/<inpainting run> --kind thin --num 1000
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

import ganzoo
from ganzoo.engine.trainer import load_for_inference
from ganzoo_plugins.tasks.inpainting import AREA_BIN, biharmonic_fill, fill_metrics, split_mask_options, to_unit

RESAMPLES = 2000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="an inpainting run directory or checkpoint")
    parser.add_argument("--kind", default="thin", help="mask kind (ganzoo list masks) [thin]")
    parser.add_argument("--num", type=int, default=1000, help="held-out images")
    parser.add_argument("--seed", type=int, default=0, help="mask seed (as `ganzoo eval --seed`)")
    parser.add_argument("--json", help="also write the table here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    asm, nets = load_for_inference(args.run, "cpu")
    images, _ = ganzoo.read_split(asm.config, "test", limit=args.num)
    _, options = split_mask_options(asm.task.eval_option_defaults({"mask": args.kind}))  # as `ganzoo eval` draws
    masks = ganzoo.draw_masks(args.kind, len(images), tuple(images.shape[-2:]), np.random.default_rng(args.seed),
                              **options)
    mask_t = torch.from_numpy(masks[:, None].astype(np.float32))
    truth = to_unit(images)
    baseline = biharmonic_fill(truth, masks)
    theirs = np.array([fill_metrics(truth[i], baseline[i], masks[i])["hole_psnr"] for i in range(len(truth))])
    areas = ganzoo.hole_fraction(masks)
    rng = np.random.default_rng(0)
    table = {}
    for name, ensemble in (("one pass", False), ("self-ensemble", True)):
        with torch.no_grad():
            filled = to_unit(torch.cat([asm.task.complete(nets["G"], x, m, ensemble)[1]
                                        for x, m in zip(images.split(100), mask_t.split(100), strict=True)]))
        ours = np.array([fill_metrics(truth[i], filled[i], masks[i])["hole_psnr"] for i in range(len(truth))])
        for lo in np.arange(0, 1, AREA_BIN):
            inside = (areas >= lo) & (areas < lo + AREA_BIN)
            if not inside.any():
                continue
            diff = (ours - theirs)[inside]
            means = [diff[rng.integers(len(diff), size=len(diff))].mean() for _ in range(RESAMPLES)]
            table[f"{name} {lo:.0%}-{lo + AREA_BIN:.0%}"] = {
                "images": int(inside.sum()), "mean_db": round(float(diff.mean()), 4),
                "low_db": round(float(np.percentile(means, 2.5)), 4),
                "high_db": round(float(np.percentile(means, 97.5)), 4),
                "ganzoo_better": round(float((diff > 0).mean()), 3),
            }
    text = json.dumps(table, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
