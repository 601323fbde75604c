"""The embedded Redis keeps its data: RDB snapshots always, an append-only file on request
(TOTP factors on), and start-up stops when it cannot have one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from app import storage


def _config(socket: Path, name: str) -> str:
    value: str = redis.Redis(unix_socket_path=str(socket)).config_get(name)[name]
    return value


def test_the_embedded_redis_persists_with_totp_on(tmp_path: Path) -> None:
    url = storage.embedded_url(tmp_path / "plain")
    socket = Path(url.removeprefix("unix://"))
    try:
        assert _config(socket, "save") == "60 1"
        assert _config(socket, "appendonly") == "no"
        # TOTP turned on while a server without it runs: it is switched over, not replaced.
        assert storage.embedded_url(tmp_path / "plain", appendonly=True) == url
        assert _config(socket, "appendonly") == "yes"
        assert _config(socket, "appendfsync") == "everysec"
        _wait_for_the_first_aof(socket)
        assert (tmp_path / "plain" / "appendonly.aof").exists()
    finally:
        storage.stop_embedded(tmp_path / "plain")
    started = storage.embedded_url(tmp_path / "aof", appendonly=True)
    try:
        assert _config(Path(started.removeprefix("unix://")), "appendonly") == "yes"
    finally:
        storage.stop_embedded(tmp_path / "aof")


def _wait_for_the_first_aof(socket: Path) -> None:
    """Until the append-only file turned on at run time is written (Redis refuses to shut
    down before)."""
    client = redis.Redis(unix_socket_path=str(socket))
    for _ in range(250):
        persistence = client.info("persistence")
        if persistence["aof_enabled"] and not persistence["aof_rewrite_in_progress"]:
            return
        time.sleep(0.02)
    raise AssertionError("the append-only file was not written")


def test_an_embedded_redis_that_cannot_persist_stops_start_up(tmp_path: Path) -> None:
    url = storage.embedded_url(tmp_path)
    # Running, without an append-only file, and not letting anyone turn one on.
    client = redis.Redis.from_url(url)
    client.acl_setuser("default", enabled=True, nopass=True, commands=["-config"])
    try:
        with pytest.raises(RuntimeError, match="TOTP factors need a Redis that persists"):
            storage.embedded_url(tmp_path, appendonly=True)
    finally:
        storage.stop_embedded(tmp_path)
