"""Process management for the real servers the tests run against.

A ``LocalServer`` owns one process group on 127.0.0.1: it picks its ports once, keeps them
and its work dir across stop/start (so a test can take a dependency down and bring it back),
logs the process' output to a file in that dir and waits for readiness with ``wait_ready``.
"""

from __future__ import annotations

import abc
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from fixtures.waits import WaitAborted, WaitTimeout, describe, wait_for

T = TypeVar("T")
S = TypeVar("S", bound="LocalServer")

LOOPBACK = "127.0.0.1"
_LOG_TAIL_LINES = 40
# Ports handed out by this process: the kernel may offer a just-released port again, and two
# servers of one session must never be given the same one.
_handed_out: set[int] = set()
# Servers started by this process, killed at exit if a test run forgot (or failed) to stop
# them: an orphaned server would keep its port and memory after pytest is gone.
_started: weakref.WeakSet[LocalServer] = weakref.WeakSet()


class ServerError(RuntimeError):
    """A harness server could not be started, or did not behave."""


class ServerExited(ServerError):
    """The server process ended while we were waiting for it."""

    def __init__(self, message: str, returncode: int) -> None:
        super().__init__(message)
        self.returncode = returncode


class ServerNotReady(ServerError):
    """The readiness deadline passed."""


def find_executable(name: str) -> str:
    """The console script ``name`` of the venv running the tests, else from PATH."""
    # Not resolved: a venv's python is a symlink and its scripts sit beside the link.
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ServerError(
            f"{name!r} is neither next to {sys.executable} nor on PATH; "
            "install the harness requirements into this venv"
        )
    return found


def free_ports(count: int, *, exclude: Sequence[int] = ()) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago.

    All sockets stay bound until every port is chosen, so the ports differ from each other;
    another process may still take one before the server binds it, which ``LocalServer.start``
    handles by choosing again.
    """
    with ExitStack() as stack:
        ports: list[int] = []
        # Bounded: the kernel rarely repeats itself, so a few extra tries are plenty.
        for _ in range(count * 20):
            if len(ports) == count:
                break
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((LOOPBACK, 0))
            port = int(sock.getsockname()[1])
            if port in _handed_out or port in exclude:
                continue
            ports.append(port)
        if len(ports) != count:
            raise ServerError(f"could not find {count} free loopback ports")
    _handed_out.update(ports)
    return ports


def free_port() -> int:
    return free_ports(1)[0]


def free_port_pair(offset: int) -> tuple[int, int]:
    """Two free ports ``p`` and ``p + offset``, for servers that derive one from the other."""
    for _ in range(50):
        candidates = free_ports(5)
        _handed_out.difference_update(candidates)
        for port in candidates:
            partner = port + offset
            if partner < 65536 and partner not in _handed_out and port_is_free(partner):
                _handed_out.update((port, partner))
                return port, partner
    raise ServerError(f"could not find two free loopback ports {offset} apart")


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def tcp_connect(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """A probe: does something accept connections there? (refused raises OSError)."""
    with socket.create_connection((host, port), timeout=timeout):
        return True


def log_tail(path: Path | None, lines: int = _LOG_TAIL_LINES) -> str:
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:]) or "(empty log)"


def wait_ready(
    probe: Callable[[], T],
    *,
    target: str,
    expected: str,
    timeout: float,
    accept: Callable[[T], bool] = lambda value: bool(value),
    transient: tuple[type[BaseException], ...] = (OSError,),
    interval: float = 0.1,
    process: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
) -> T:
    """Readiness through ``fixtures.waits.wait_for``, failing in the harness' own terms.

    Polls at a fixed ``interval``: a server that is starting should be seen the moment it
    is up. If ``process`` ends meanwhile, waiting stops at once with ``ServerExited`` (its
    exit code and log tail): a crashed server will never become ready. At the deadline,
    ``ServerNotReady`` with the last value seen and the log tail.
    """

    def exited() -> str | None:
        if process is None or process.poll() is None:
            return None
        return f"exited with code {process.returncode}"

    try:
        return wait_for(
            probe,
            target=target,
            expectation=expected,
            until=accept,
            timeout=timeout,
            interval=interval,
            max_interval=interval,
            transient=transient,
            abort=exited,
            context=lambda: f"--- tail of {log_path} ---\n{log_tail(log_path)}",
        )
    # ``from None`` below: these messages already say all that the WaitFailed did.
    except WaitAborted as stopped:
        assert process is not None and process.returncode is not None
        raise ServerExited(
            f"{target} exited with code {process.returncode} while waiting for: {expected}\n{stopped.context}",
            process.returncode,
        ) from None
    except WaitTimeout as late:
        raise ServerNotReady(
            f"{target} not ready within {timeout:.1f} s. Expected: {expected}. "
            f"Last seen: {describe(late.last)}\n{late.context}"
        ) from None


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # Field 5 of /proc/PID/stat is the process group; the name (field 2) may hold spaces.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        fds = list(fd_dir.iterdir())
    except OSError:
        return inodes
    for fd in fds:
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def _decode_address(hex_addr: str) -> tuple[str, int]:
    host_hex, port_hex = hex_addr.split(":")
    raw = bytes.fromhex(host_hex)
    if len(raw) == 4:
        host = socket.inet_ntop(socket.AF_INET, raw[::-1])
    else:
        # /proc/net/tcp6 stores the address as four host-endian 32-bit words.
        words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
        host = socket.inet_ntop(socket.AF_INET6, b"".join(words))
    return host, int(port_hex, 16)


def listening_addresses(pids: Sequence[int]) -> set[tuple[str, int]]:
    """The TCP (host, port) pairs the given processes listen on, read from /proc."""
    inodes: set[str] = set()
    for pid in pids:
        inodes |= _socket_inodes(pid)
    found: set[tuple[str, int]] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            # State 0A is LISTEN.
            if cols[3] == "0A" and cols[9] in inodes:
                found.add(_decode_address(cols[1]))
    return found


class LocalServer(abc.ABC):
    """One server process (and its children) in its own session, on 127.0.0.1.

    Subclasses say how to pick ports, build the command line and probe readiness.
    ``start`` after ``stop``/``kill`` reuses the same ports and data.
    """

    name: str = "server"
    # The port the readiness probe talks to.
    port: int = 0
    startup_timeout: float = 60.0
    stop_timeout: float = 15.0
    # Probe failures that mean "not up yet" rather than "broken".
    transient: tuple[type[BaseException], ...] = (OSError,)

    def __init__(self, workdir: Path | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"stackproof-{self.name}-")
            workdir = Path(self._tmp.name)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"{self.name}.log"
        self._process: subprocess.Popen[bytes] | None = None
        # Chosen by the caller: never re-chosen after a clash, the clash is reported instead.
        self.caller_chose_ports = False
        # Ports are kept once the server has started: stop/start must come back on them.
        self._ports_fixed = False
        self.starts = 0

    # --- to be provided by subclasses ---------------------------------------------------

    @abc.abstractmethod
    def _allocate_ports(self) -> None:
        """Choose the ports the server will listen on (called again after a port clash)."""

    @abc.abstractmethod
    def _command(self) -> list[str]:
        ...

    @abc.abstractmethod
    def _probe(self) -> Any:
        """One readiness check: a truthy value when ready, falsy or an OSError when not."""

    def _accept(self, value: Any) -> bool:
        """Whether a probe's value means ready; overridden where a probe describes problems."""
        return bool(value)

    def _expected(self) -> str:
        return "a ready answer"

    def _env(self) -> dict[str, str]:
        return dict(os.environ)

    def _before_first_start(self) -> None:
        """One-time preparation of the work dir (config files, users, migrations)."""

    def _after_exit(self) -> None:
        """Clean-up after the process is gone (stop or kill)."""

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        if self.running:
            return self
        if not self._ports_fixed:
            self._start_with_fresh_ports()
        else:
            self._launch_and_wait()
        return self

    def _start_with_fresh_ports(self) -> None:
        # Another process may grab a chosen port before we bind it: choose again, a few times.
        attempts = 3
        for attempt in range(1, attempts + 1):
            self._allocate_ports()
            try:
                self._before_first_start()
                self._launch_and_wait()
            except ServerExited as exc:
                clash = "address already in use" in str(exc).lower()
                if not clash or self.caller_chose_ports or attempt == attempts:
                    raise
                continue
            self._ports_fixed = True
            return

    def _launch_and_wait(self) -> None:
        self._spawn(self._command(), self._env())
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise

    def _spawn(self, argv: list[str], env: dict[str, str]) -> None:
        _started.add(self)
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n=== stackproof start #{self.starts}: {' '.join(argv)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=env,
                start_new_session=True,
            )

    def _wait_ready(self) -> None:
        wait_ready(
            self._probe,
            target=repr(self),
            expected=self._expected(),
            timeout=self.startup_timeout,
            accept=self._accept,
            transient=self.transient,
            process=self._process,
            log_path=self.log_path,
        )
        # An answer may come from someone else's server on a port we failed to bind.
        if self.port not in {port for _, port in self.listening()}:
            raise ServerExited(
                f"{self!r}: port {self.port} answered, but not from our process (exit code "
                f"{self._process.poll() if self._process else None}): address already in use?\n"
                f"--- tail of {self.log_path} ---\n{log_tail(self.log_path)}",
                -1,
            )

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM, wait, then SIGKILL: a clean shutdown that cannot hang the suite."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                process.wait()
        self._reap()
        return process.returncode

    def kill(self) -> int | None:
        """SIGKILL the whole process group: a crash, no chance to clean up."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            self._signal_group(signal.SIGKILL)
            process.wait()
        self._reap()
        return process.returncode

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop and delete the work dir if the harness created it."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self._process is not None
        try:
            # The group id is the pid we started (start_new_session): only our own processes.
            os.killpg(self._process.pid, sig)
        except ProcessLookupError:
            pass

    def _reap(self) -> None:
        # Children that outlived their leader (e.g. a crashed gunicorn's workers) would hold
        # the port. A group with members left cannot have lost its id to another process.
        assert self._process is not None
        if _group_members(self._process.pid):
            self._signal_group(signal.SIGKILL)
        self._after_exit()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- observation --------------------------------------------------------------------

    def pids(self) -> list[int]:
        if not self.running:
            return []
        assert self._process is not None
        return _group_members(self._process.pid) or [self._process.pid]

    def listening(self) -> set[tuple[str, int]]:
        return listening_addresses(self.pids())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workdir={str(self.workdir)!r}, pid={self.pid})"


def iter_pages(fetch: Callable[[str | None], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Items of a DRF-style paginated list: ``fetch(next_url)`` returns one page."""
    url: str | None = None
    while True:
        page = fetch(url)
        yield from page.get("results", [])
        url = page.get("next")
        if not url:
            return


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_started):
        if server.running:
            server.kill()
