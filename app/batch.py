"""Several Redis commands and Lua script calls in one round trip."""

from __future__ import annotations

from typing import Any

from redis.commands.core import Script
from redis.exceptions import NoScriptError


class Batch:
    """A non-transactional pipeline whose script calls survive a Redis that forgot them.

    redis-py's own pipelines check every registered script with SCRIPT EXISTS before each
    execute, one more round trip per batch; this sends EVALSHA directly and reloads only
    when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH).
    """

    def __init__(self, client: Any) -> None:
        self.pipe = client.pipeline(transaction=False)
        self._calls: dict[int, tuple[Script, list[Any], list[Any]]] = {}

    def script(self, script: Script, keys: list[Any], args: list[Any]) -> None:
        self._calls[len(self.pipe)] = (script, keys, args)
        self.pipe.evalsha(script.sha, len(keys), *keys, *args)

    def execute(self) -> list[Any]:
        results: list[Any] = self.pipe.execute(raise_on_error=False)
        for index, (script, keys, args) in self._calls.items():
            if isinstance(results[index], NoScriptError):
                results[index] = script(keys=keys, args=args)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results
