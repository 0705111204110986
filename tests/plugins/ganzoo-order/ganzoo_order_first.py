"""Replaces 'hinge' and asks pluggy to be called first, so a later replacement displaces it."""

import ganzoo


class FirstHinge(ganzoo.Loss):
    description = "hinge as replaced by the tryfirst plugin"

    def d_loss(self, real, fake):
        return (1 - real).clamp(min=0).mean() + (1 + fake).clamp(min=0).mean()

    def g_loss(self, fake):
        return -fake.mean()


@ganzoo.hookimpl(tryfirst=True)
def register_losses(register):
    register("hinge", FirstHinge, replace=True)
