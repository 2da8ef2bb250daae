"""``python -m omnibot.sandbox``: the same as ``omnibot sandbox``."""

from omnibot.sandbox.cli import sandbox_command

sandbox_command(prog_name="python -m omnibot.sandbox")
