"""``python -m omnibot_sandbox``: the same as ``omnibot sandbox``."""

from omnibot_sandbox.cli import sandbox_command

sandbox_command(prog_name="python -m omnibot_sandbox")
