"""The native pump (``cuprum._streams_rs``) and the ``rust`` relay, on real processes."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.to_thread
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuprum._transport import native
from cuprum._transport.native import PumpFunction
from cuprum._transport.rust import rust_relay

pytestmark = pytest.mark.native

Mode = Literal["auto", "splice", "copy"]
MODES: list[Mode] = ["auto", "splice", "copy"]
DEADLINE = 20.0


@pytest.fixture
def pump() -> PumpFunction:
    return native.pump()


def pump_in(mode: str, reader_fd: int, writer_fd: int, **options: Any) -> int:
    """The pump with its transfer strategy forced (the module's private test entry point)."""
    return int(native.module()._pump_in_mode(mode, reader_fd, writer_fd, **options))


@pytest.fixture
def payload(tmp_path: Path) -> tuple[Path, bytes]:
    """3 MiB + a bit of random data, also saved to a file for `cat`."""
    data = os.urandom(3 * (1 << 20) + 12345)
    path = tmp_path / "payload.bin"
    path.write_bytes(data)
    return path, data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def producer(*argv: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=subprocess.PIPE)


def consumer(*argv: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def fds(proc_out: subprocess.Popen[bytes], proc_in: subprocess.Popen[bytes]) -> tuple[int, int]:
    assert proc_out.stdout is not None
    assert proc_in.stdin is not None
    return proc_out.stdout.fileno(), proc_in.stdin.fileno()


def finish(*procs: subprocess.Popen[bytes]) -> list[bytes]:
    """Close the parent's pipe ends and collect each process's stdout."""
    outputs = []
    for proc in procs:
        if proc.stdin is not None:
            proc.stdin.close()
        out = proc.stdout.read() if proc.stdout is not None else b""
        if proc.stdout is not None:
            proc.stdout.close()
        proc.wait(timeout=DEADLINE)
        outputs.append(out)
    return outputs


def open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds or the deadline passes (no fixed sleep)."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.001)


def _threads() -> set[threading.Thread]:
    # anyio's trio test runner drives trio in guest mode, whose I/O wait runs on
    # a cached "Trio thread N" that outlives the test body: not ours, ignored.
    return {t for t in threading.enumerate() if not t.name.startswith("Trio thread")}


@contextlib.contextmanager
def no_leaks() -> Iterator[None]:
    """The block leaves no extra thread and no extra open descriptor behind."""
    threads, descriptors = _threads(), open_fds()
    yield
    wait_until(lambda: _threads() <= threads, "pump threads to exit")
    assert open_fds() <= descriptors


# --- the pump itself -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("buffer_size", [4096, 65536, 1 << 20])
def test_pump_between_processes_preserves_every_byte(
    pump: PumpFunction, payload: tuple[Path, bytes], mode: Mode, buffer_size: int
) -> None:
    path, data = payload
    src, dst = producer("cat", str(path)), consumer("sha256sum")
    moved = pump_in(mode, *fds(src, dst), buffer_size=buffer_size)
    _, digest = finish(src, dst)
    assert moved == len(data)
    assert digest.split()[0].decode() == sha256(data)
    assert src.returncode == 0


@pytest.mark.parametrize("mode", MODES)
def test_pump_regular_file_reader(
    pump: PumpFunction, payload: tuple[Path, bytes], mode: Mode
) -> None:
    path, data = payload
    dst = consumer("sha256sum")
    assert dst.stdin is not None
    with path.open("rb") as source:
        moved = pump_in(mode, source.fileno(), dst.stdin.fileno())
    (digest,) = finish(dst)
    assert moved == len(data)
    assert digest.split()[0].decode() == sha256(data)


def test_pump_file_to_file_copies_unless_splice_is_forced(
    pump: PumpFunction, payload: tuple[Path, bytes], tmp_path: Path
) -> None:
    path, data = payload
    out = tmp_path / "copy.bin"
    with path.open("rb") as source, out.open("wb") as target:
        assert pump(source.fileno(), target.fileno()) == len(data)
    assert out.read_bytes() == data
    with path.open("rb") as source, out.open("wb") as target:
        with pytest.raises(OSError) as info:
            pump_in("splice", source.fileno(), target.fileno())
    assert info.value.errno == errno.EINVAL


@pytest.mark.parametrize("mode", MODES)
def test_pump_consumer_exiting_early_ends_the_hop(pump: PumpFunction, mode: Mode) -> None:
    src, dst = producer("head", "-c", "50M", "/dev/zero"), consumer("head", "-c", "10")
    moved = pump_in(mode, *fds(src, dst))
    assert 10 <= moved < 50 << 20
    head_out, _ = finish(dst, src)  # closing our read end stops the producer
    assert head_out == b"\0" * 10


@pytest.mark.parametrize("mode", MODES)
def test_pump_tap_sees_identical_bytes(
    pump: PumpFunction, payload: tuple[Path, bytes], mode: Mode
) -> None:
    path, data = payload
    src, dst = producer("cat", str(path)), consumer("sha256sum")
    tap_r, tap_w = os.pipe()
    seen = bytearray()

    def drain() -> None:
        while chunk := os.read(tap_r, 1 << 16):
            seen.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        moved = pump_in(mode, *fds(src, dst), tap_fd=tap_w)
    finally:
        os.close(tap_w)
        reader.join(DEADLINE)
        os.close(tap_r)
    _, digest = finish(src, dst)
    assert moved == len(data)
    assert bytes(seen) == data
    assert digest.split()[0].decode() == sha256(data)


@pytest.mark.parametrize("mode", MODES)
def test_pump_stop_fd_releases_the_gil_and_interrupts(pump: PumpFunction, mode: Mode) -> None:
    src = producer("sleep", "60")  # never writes
    assert src.stdout is not None
    out_r, out_w = os.pipe()
    stop_r, stop_w = os.pipe()
    reader_fd = src.stdout.fileno()
    blocking_before = os.get_blocking(reader_fd)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            pump_in(mode, reader_fd, out_w, stop_fd=stop_r)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    # Once the pump runs it has made the reader non-blocking; this thread keeps
    # running Python meanwhile, so the pump does not hold the GIL.
    wait_until(lambda: not os.get_blocking(reader_fd), "the pump to start")
    assert worker.is_alive()
    started = time.monotonic()
    os.write(stop_w, b"x")
    worker.join(DEADLINE)
    assert not worker.is_alive()
    assert time.monotonic() - started < 5
    assert len(errors) == 1
    assert isinstance(errors[0], InterruptedError)
    assert errors[0].errno == errno.EINTR
    # Flags restored, nothing closed.
    assert os.get_blocking(reader_fd) == blocking_before
    for fd in (out_r, out_w, stop_r, stop_w):
        os.fstat(fd)
        os.close(fd)
    src.kill()
    finish(src)


def test_pump_epipe_survives_default_sigpipe_disposition() -> None:
    """EPIPE stays an end of hop even where SIGPIPE would kill the process."""
    script = (
        "import os, signal\n"
        "from cuprum._streams_rs import _pump_in_mode\n"
        "signal.signal(signal.SIGPIPE, signal.SIG_DFL)\n"
        "in_r, in_w = os.pipe(); out_r, out_w = os.pipe()\n"
        "os.write(in_w, b'x' * 1000); os.close(in_w); os.close(out_r)\n"
        "for mode in ('auto', 'copy'):\n"
        "    print(_pump_in_mode(mode, in_r, out_w))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=DEADLINE, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [b"0", b"0"]


def test_pump_argument_errors(pump: PumpFunction) -> None:
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"data")
        with pytest.raises(OSError) as info:
            pump(read_end, 1_000_000)
        assert info.value.errno == errno.EBADF
        with pytest.raises(ValueError, match="buffer_size"):
            pump(read_end, write_end, buffer_size=0)
        with pytest.raises(ValueError, match="mode"):
            pump_in("fast", read_end, write_end)
        with pytest.raises(TypeError):
            pump(read_end, write_end, _mode="copy")  # type: ignore[call-arg]
    finally:
        os.close(read_end)
        os.close(write_end)


def _thread_transfer(
    chunks: list[bytes], buffer_size: int, mode: Mode, tap: bool
) -> tuple[int, bytes, bytes]:
    """Writer thread -> pipe -> pump -> pipe -> reader thread (and tap reader)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    tap_r, tap_w = os.pipe() if tap else (-1, -1)
    received, tapped = bytearray(), bytearray()

    def write() -> None:
        for chunk in chunks:
            _write_all(in_w, chunk)
        os.close(in_w)

    def read(fd: int, into: bytearray) -> None:
        while data := os.read(fd, 1000):
            into.extend(data)

    threads = [
        threading.Thread(target=write),
        threading.Thread(target=read, args=(out_r, received)),
    ]
    if tap:
        threads.append(threading.Thread(target=read, args=(tap_r, tapped)))
    for thread in threads:
        thread.start()
    try:
        moved = pump_in(mode, in_r, out_w, buffer_size=buffer_size, tap_fd=tap_w if tap else None)
    finally:
        os.close(out_w)
        if tap:
            os.close(tap_w)
        for thread in threads:
            thread.join(DEADLINE)
        for fd in (in_r, out_r, tap_r):
            if fd >= 0:
                os.close(fd)
    return moved, bytes(received), bytes(tapped)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(st.binary(min_size=1, max_size=70_000), max_size=12),
    buffer_size=st.sampled_from([1, 7, 4096, 65536, 1 << 20]),
    mode=st.sampled_from(MODES),
    tap=st.booleans(),
)
def test_pump_any_chunking(chunks: list[bytes], buffer_size: int, mode: Mode, tap: bool) -> None:
    if buffer_size < 4096:
        chunks = [c[:300] for c in chunks]  # keep byte-at-a-time runs short
    data = b"".join(chunks)
    moved, received, tapped = _thread_transfer(chunks, buffer_size, mode, tap)
    assert moved == len(data)
    assert received == data
    assert tapped == (data if tap else b"")


# --- the rust relay ---------------------------------------------------------------------


def _nonblocking(*fds_: int) -> None:
    for fd in fds_:
        os.set_blocking(fd, False)  # the relay contract: callers pass non-blocking fds


@pytest.mark.anyio
@pytest.mark.parametrize("tap", [False, True])
async def test_relay_between_processes(payload: tuple[Path, bytes], tap: bool) -> None:
    path, data = payload
    src, dst = producer("cat", str(path)), consumer("sha256sum")
    reader_fd, writer_fd = fds(src, dst)
    _nonblocking(reader_fd, writer_fd)
    seen = bytearray()
    with no_leaks():
        moved = await rust_relay(reader_fd, writer_fd, on_chunk=seen.extend if tap else None)
    assert os.get_blocking(reader_fd) is False  # flags as the caller left them
    _, digest = finish(src, dst)
    assert moved == len(data)
    assert digest.split()[0].decode() == sha256(data)
    assert bytes(seen) == (data if tap else b"")


@pytest.mark.anyio
async def test_relay_consumer_exiting_early() -> None:
    src, dst = producer("head", "-c", "50M", "/dev/zero"), consumer("head", "-c", "10")
    seen: list[int] = []
    with no_leaks():
        moved = await rust_relay(*fds(src, dst), on_chunk=lambda b: seen.append(len(b)))
    assert 10 <= moved < 50 << 20
    assert sum(seen) >= moved
    head_out, _ = finish(dst, src)
    assert head_out == b"\0" * 10


@pytest.mark.anyio
@pytest.mark.parametrize("flowing", [False, True])
@pytest.mark.parametrize("tap", [False, True])
async def test_relay_cancellation_is_prompt(flowing: bool, tap: bool) -> None:
    if flowing:  # endless data: the pump seldom waits
        src = producer("cat", "/dev/zero")
        dst = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    else:  # no data at all: the pump sleeps in poll(2)
        src, dst = producer("sleep", "60"), consumer("cat")
    tapped: list[int] = []

    def on_chunk(chunk: bytes) -> None:
        assert not chunk.strip(b"\0")
        tapped.append(len(chunk))

    with no_leaks():
        started = time.monotonic()
        with anyio.move_on_after(0.3) as scope:
            await rust_relay(*fds(src, dst), on_chunk=on_chunk if tap else None)
        elapsed = time.monotonic() - started
    assert scope.cancelled_caught
    assert elapsed < 3, f"relay took {elapsed:.2f}s to stop"
    assert bool(tapped) == (flowing and tap)
    src.kill()
    finish(dst, src)


@pytest.mark.anyio
async def test_relay_on_chunk_error_propagates() -> None:
    src, dst = producer("head", "-c", "5M", "/dev/zero"), consumer("cat")

    def explode(chunk: bytes) -> None:
        raise LookupError("on_chunk failed")

    with no_leaks(), pytest.raises(LookupError, match="on_chunk failed"):
        await rust_relay(*fds(src, dst), on_chunk=explode)
    finish(dst, src)


@pytest.mark.anyio
async def test_relay_chain_longer_than_the_thread_pool(tmp_path: Path) -> None:
    """A chain of more hops than anyio's thread limit only ends if all run at once."""
    hops = int(anyio.to_thread.current_default_thread_limiter().total_tokens) + 10
    data = os.urandom(8 << 20)  # far more than the pipes along the chain can buffer
    path = tmp_path / "chain.bin"
    path.write_bytes(data)
    src, dst = producer("cat", str(path)), consumer("sha256sum")
    reader_fd, writer_fd = fds(src, dst)
    links = [os.pipe() for _ in range(hops - 1)]
    readers = [reader_fd] + [r for r, _ in links]
    writers = [w for _, w in links] + [writer_fd]
    counts: list[int] = []

    async def hop(r: int, w: int, close_writer: bool) -> None:
        try:
            counts.append(await rust_relay(r, w))
        finally:
            if close_writer:
                os.close(w)  # EOF for the next hop

    try:
        with no_leaks(), anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for i, (r, w) in enumerate(zip(readers, writers, strict=True)):
                    tg.start_soon(hop, r, w, i < hops - 1)
    finally:
        for r, _ in links:
            os.close(r)
    _, digest = finish(src, dst)
    assert counts == [len(data)] * hops
    assert digest.split()[0].decode() == sha256(data)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@settings(max_examples=25, deadline=None)
@given(chunks=st.lists(st.binary(min_size=1, max_size=200_000), max_size=8))
def test_relay_any_chunking(backend: str, chunks: list[bytes]) -> None:
    data = b"".join(chunks)
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    received, seen = bytearray(), bytearray()

    def write() -> None:
        for chunk in chunks:
            _write_all(in_w, chunk)
        os.close(in_w)

    def read() -> None:
        while block := os.read(out_r, 1 << 16):
            received.extend(block)

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    try:
        moved = anyio.run(
            lambda: rust_relay(in_r, out_w, on_chunk=seen.extend, buffer_size=65536),
            backend=backend,
        )
    finally:
        os.close(out_w)
        for thread in threads:
            thread.join(DEADLINE)
        os.close(in_r)
        os.close(out_r)
    assert moved == len(data)
    assert bytes(received) == data
    assert bytes(seen) == data
