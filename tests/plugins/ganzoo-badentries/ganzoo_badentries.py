"""Registers unsafe names and objects of the wrong type beside one good loss."""

import ganzoo


class FineLoss(ganzoo.Loss):
    description = "The one good entry of ganzoo-badentries"

    def d_loss(self, real, fake):
        return (1 - real).clamp(min=0).mean() + (1 + fake).clamp(min=0).mean()

    def g_loss(self, fake):
        return -fake.mean()


@ganzoo.hookimpl
def register_architectures(register):
    register("text-arch", "not an architecture")


@ganzoo.hookimpl
def register_losses(register):
    register(42, FineLoss)
    register("a:b", FineLoss)
    register("../escape", FineLoss)
    register("fine-loss", FineLoss)
    register("loss-instance", FineLoss())


@ganzoo.hookimpl
def register_tasks(register):
    register("loss-as-task", FineLoss)
