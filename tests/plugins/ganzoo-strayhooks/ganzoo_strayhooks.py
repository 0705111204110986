"""Prints at import; misspells one hook (register_loss), leaves another unmarked (register_datasets) and has a
helper whose name only starts like a hook (register_buffers), which must not be reported."""

import ganzoo

print("strayhooks says hello on stdout")


class FineLoss(ganzoo.Loss):
    def d_loss(self, real, fake):
        return (1 - real).clamp(min=0).mean() + (1 + fake).clamp(min=0).mean()

    def g_loss(self, fake):
        return -fake.mean()


def register_buffers(net):
    return net


def register_loss(register):
    register("never-registered", FineLoss)


def register_datasets(register):
    register("never-registered", FineLoss)


@ganzoo.hookimpl
def register_losses(register):
    register("stray-fine-loss", FineLoss)
