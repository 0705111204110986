"""Registers 'hinge' a second time, so the registry must report the clash."""

import torch.nn.functional as F

import ganzoo


class SquaredHinge(ganzoo.Loss):
    """Squared hinge loss, registered under the clashing name 'hinge'."""

    description = "Squared hinge loss (clashes with the built-in 'hinge')"

    def d_loss(self, real, fake):
        return (F.relu(1 - real) ** 2).mean() + (F.relu(1 + fake) ** 2).mean()

    def g_loss(self, fake):
        return -fake.mean()


@ganzoo.hookimpl
def register_losses(register):
    register("hinge", SquaredHinge)
