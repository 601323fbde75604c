"""Several Redis commands and Lua script calls in one round trip."""

from __future__ import annotations

from typing import Any

from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.exceptions import NoScriptError


class Batch:
    """A non-transactional pipeline whose script calls survive a Redis that forgot them.

    redis-py's own pipelines check every registered script with SCRIPT EXISTS before each
    execute, one more round trip per batch; this sends EVALSHA directly and reloads only
    when Redis answers NOSCRIPT (after a restart, a failover or SCRIPT FLUSH).

    redis-py's cluster pipeline refuses EVALSHA, so on a Redis Cluster each script call runs
    on its own (one round trip each, routed by its keys) after the pipeline of plain commands.
    """

    def __init__(self, client: Any) -> None:
        self.pipe = client.pipeline(transaction=False)
        self._pipelined = not isinstance(client, RedisCluster)
        self._calls: dict[int, tuple[Script, list[Any], list[Any]]] = {}

    def script(self, script: Script, keys: list[Any], args: list[Any]) -> None:
        position = len(self.pipe) + (0 if self._pipelined else len(self._calls))
        self._calls[position] = (script, keys, args)
        if self._pipelined:
            self.pipe.evalsha(script.sha, len(keys), *keys, *args)

    def execute(self) -> list[Any]:
        """Every reply in the order queued; the first error among them is raised."""
        results: list[Any] = self.pipe.execute(raise_on_error=False) if len(self.pipe) else []
        for position, (script, keys, args) in self._calls.items():
            if not self._pipelined:
                results.insert(position, script(keys=keys, args=args))
            elif isinstance(results[position], NoScriptError):
                results[position] = script(keys=keys, args=args)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results
