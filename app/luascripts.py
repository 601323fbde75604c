"""The Redis Lua scripts each package keeps in its `lua/` folder.

A script names the shared parts it builds on in its first lines, one `-- uses <file>` line
each; they are put before it, in that order, so that Redis runs the whole as one script.
"""

from __future__ import annotations

from importlib import resources
from itertools import takewhile
from typing import Any

USES = "-- uses "


def source(package: str, name: str) -> str:
    """The text of `<package>/lua/<name>.lua`, after the shared parts it uses."""
    folder = resources.files(package) / "lua"
    text = (folder / f"{name}.lua").read_text()
    uses = takewhile(lambda line: line.startswith(USES), text.splitlines())
    return "".join((folder / line.removeprefix(USES).strip()).read_text() for line in uses) + text


def register(client: Any, package: str, name: str) -> Any:
    """The script `<package>/lua/<name>.lua`, callable on `client` (EVALSHA, loaded when
    missing)."""
    return client.register_script(source(package, name))
