"""Adds a command, then raises in register_commands: neither the command nor the error may reach other commands."""

import click

import ganzoo


@ganzoo.hookimpl
def register_commands(cli):
    @cli.command("half-added")
    def half_added():
        """Never reachable: the hook fails after adding it."""
        click.echo("half")

    raise RuntimeError("commands went wrong")
