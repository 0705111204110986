"""Recipes from the papers and reference repositories: DCGAN (pytorch/examples), SNGAN (also at a CPU width),
WGAN-GP, CycleGAN, DeepFill-style inpainting on MNIST, and PacDCGAN2 in PacGAN's Table 3 setting."""

from __future__ import annotations

from ganzoo.api import Recipe
from ganzoo.hookspecs import Register, hookimpl

RECIPES = {
    "dcgan": Recipe(
        {"arch": "dcgan", "loss": "bce", "image_size": 64, "batch_size": 64, "nz": 100, "width": 64, "lr": 2e-4,
         "beta1": 0.5, "beta2": 0.999, "ema": False},
        "DCGAN at 64 px: ngf = ndf = 64, nz 100, Adam 2e-4 (0.5, 0.999), batch 64",
        "pytorch/examples dcgan/main.py defaults (Radford et al. 2016)",
    ),
    "sngan": Recipe(
        {"arch": "resnet-sn", "loss": "hinge", "n_critic": 5, "batch_size": 64, "width": 64, "lr": 2e-4,
         "beta1": 0.0, "beta2": 0.9, "ema": False},
        "SNGAN: ResNet G, spectral-norm ResNet D, hinge loss, n_dis 5, Adam 2e-4 (0, 0.9)",
        "Miyato et al. 2018 (CIFAR-10 ResNet setting)",
    ),
    "sngan-cpu": Recipe(
        {"arch": "resnet-sn", "loss": "hinge", "n_critic": 5, "batch_size": 64, "width": 8, "lr": 2e-4,
         "beta1": 0.0, "beta2": 0.9, "ema": False},
        "SNGAN at width 8 (G 32, D 16 channels; the paper's 256/128 is width 64) so that a 100-CPU-s bench row "
        "trains ~67 G steps: 1.5 CPU-s per G step (n_dis 5, batch 64, 32 px, 1 thread; width 12: 3.1 s)",
        "Miyato et al. 2018 settings, width from benchmarks/results/resnet_sn_profile.md",
    ),
    "wgan-gp": Recipe(
        {"arch": "dcgan", "loss": "wgan-gp", "n_critic": 5, "batch_size": 64, "width": 64, "lr": 1e-4, "beta1": 0.0,
         "beta2": 0.9, "ema": False, "loss_options": {"gp_weight": 10.0}},
        "WGAN-GP: lambda 10, n_critic 5, Adam 1e-4 (0, 0.9), on the DCGAN nets (whose D keeps its BN)",
        "Gulrajani et al. 2017, Algorithm 1 defaults",
    ),
    "cyclegan": Recipe(
        {"task": "cyclegan", "arch": "resnet-9blocks", "loss": "lsgan", "dataset": "unaligned", "image_size": 256,
         "batch_size": 1, "lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "lr_policy": "linear", "epochs": 200.0},
        "CycleGAN: ResNet-9 G, 70x70 PatchGAN, LSGAN, cycle 10, identity 0.5, pool 50, 200 epochs, linear decay",
        "junyanz/pytorch-CycleGAN-and-pix2pix defaults (Zhu et al. 2017)",
    ),
    "inpainting": Recipe(
        {"task": "inpainting", "arch": "unet", "loss": "hinge", "dataset": "mnist", "image_size": 28, "channels": 1,
         "width": 16, "lr": 5e-4, "steps": 2000, "data_options": {"holdout": 2000},
         "task_options": {"mask": "mixture", "prefill": "biharmonic"}},
        "Inpainting on MNIST: U-Net + SN-PatchGAN, L1 (hole 6, valid 1) + 0.1 hinge, a mixture of all mask kinds; "
        "G corrects a biharmonic fill",
        "DeepFill v2's losses and mask mixture (Yu et al. 2019) at ganzoo's MNIST budget "
        "(benchmarks/results/inpainting_masks_mnist.md)",
    ),
    "pacdcgan2": Recipe(
        {"arch": "pacgan-table3", "loss": "bce", "dataset": "stacked-mnist", "image_size": 28, "channels": 3,
         "pack": 2, "batch_size": 128, "nz": 256, "lr": 1e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.99,
         "ema": False, "data_options": {"holdout": 2000}},
        "PacDCGAN2 on Stacked MNIST with D a quarter of G's size (PacGAN Table 3)",
        "Lin et al. 2018, Table 3 (the Unrolled GAN setting)",
    ),
}


@hookimpl
def register_recipes(register: Register) -> None:
    for name, recipe in RECIPES.items():
        register(name, recipe)
