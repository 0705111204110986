"""Replaces 'hinge' and asks pluggy to be called last, so its replacement wins."""

import ganzoo


class LastHinge(ganzoo.Loss):
    description = "hinge as replaced by the trylast plugin"

    def d_loss(self, real, fake):
        return (1 - real).clamp(min=0).mean() + (1 + fake).clamp(min=0).mean()

    def g_loss(self, fake):
        return -fake.mean()


@ganzoo.hookimpl(trylast=True)
def register_losses(register):
    register("hinge", LastHinge, replace=True)
