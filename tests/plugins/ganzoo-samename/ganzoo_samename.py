"""A plugin published under the entry-point name 'hinge', which a built-in plugin already has."""

import ganzoo


class SoftHinge(ganzoo.Loss):
    description = "Softplus hinge (never loaded: its plugin name is taken)"

    def d_loss(self, real, fake):
        return (1 - real).clamp(min=0).mean() + (1 + fake).clamp(min=0).mean()

    def g_loss(self, fake):
        return -fake.mean()


@ganzoo.hookimpl
def register_losses(register):
    register("soft-hinge", SoftHinge)
