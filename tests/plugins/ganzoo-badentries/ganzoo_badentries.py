"""Registers unsafe names, objects of the wrong type, classes missing a method and tasks with bad capability
declarations beside one good loss."""

import ganzoo


class FineLoss(ganzoo.Loss):
    description = "The one good entry of ganzoo-badentries"

    def d_loss(self, real, fake):
        return (1 - real).clamp(min=0).mean() + (1 + fake).clamp(min=0).mean()

    def g_loss(self, fake):
        return -fake.mean()


class HalfLoss(ganzoo.Loss):
    def d_loss(self, real, fake):
        return fake.mean() - real.mean()


class NoJudgeTask(ganzoo.Task):
    def generate(self, ctx, batch):
        return {}


class FineTask(ganzoo.Task):
    def generate(self, ctx, batch):
        return {}

    def judges(self, batch, out):
        return []

    def fixed_inputs(self, ctx, batch, n):
        return {}

    def samples(self, nets, fixed):
        return None


class StringInputTask(FineTask):
    generator_input = "noise"


class TypoInputTask(FineTask):
    discriminator_input = ("image", "lable")


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
    register("half-loss", HalfLoss)


@ganzoo.hookimpl
def register_tasks(register):
    register("loss-as-task", FineLoss)
    register("no-judge", NoJudgeTask)
    register("string-input", StringInputTask)
    register("typo-input", TypoInputTask)
