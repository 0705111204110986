"""Looks a built-in up while registering, which cannot work: the registry is still being built."""

import dataclasses

import ganzoo


@ganzoo.hookimpl
def register_architectures(register):
    register("dcgan-wide", dataclasses.replace(ganzoo.get("archs", "dcgan"), description="dcgan, wider"))
