"""A host signal handler that raises, run at each point where CPython would run it.

CPython (3.11) runs a Python signal handler only where its eval loop checks for one:
on entering a Python frame, at a backward jump, and at the end of a call that the
eval loop did not inline (a builtin, a class, a C callable such as a
``functools.partial``, or a Python function called with ``*args``/``**kwargs``):
there, the call has returned and its result is not stored anywhere yet. A Python
function called by a plain ``CALL`` runs inlined, and its return is no check point.
:func:`interrupt_each_point` counts those checks in the frames of the code under
test, and makes the n-th one raise through a real handler (``signal.raise_signal``,
whose handler raises :class:`Interrupted`), for n = 0, 1, 2 ... until a call gets
through untouched. Only one raise is injected per call: what the code does about that
one exception is what is checked.

How each check is reached: ``sys.settrace`` (frame entries, opcodes) and
``sys.setprofile`` (builtins returning). The end of a call raises from inside that
call, as the real check does: a builtin's return (profile ``c_return``), the return
of the ``__init__`` a class call ran; a C callable with neither (ctypes, ``map``) at
the next instruction instead. Whether a Python frame was inlined is read from the
interpreter's own frame (``_PyInterpreterFrame.is_entry``, through ``ctypes``): a
frame entered from C (a partial's, a ``*args`` call's) ends a checked call.

Shared by every test package (``tests/`` is on ``sys.path`` through its conftest).
"""

from __future__ import annotations

import ctypes
import dis
import inspect
import signal
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import pytest

__all__ = ["Aborted", "Interrupted", "codes_of", "interrupt_each_point"]

T = TypeVar("T")

_SIGNAL = signal.SIGUSR2
_CALLS = frozenset({"CALL", "CALL_FUNCTION_EX"})
_JUMPS = frozenset({"JUMP_BACKWARD"})
_MADE = frozenset({"__new__", "__init__"})  # run by type.__call__, from C
_RESUMABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
MODELLED = sys.version_info[:2] == (3, 11)
"""Whether the checks above are this interpreter's (the eval loop they were read from)."""


class Interrupted(Exception):
    """What the host's signal handler raises."""


class Aborted(BaseException):
    """What a host's handler raises that is no ``Exception`` (as ``KeyboardInterrupt``)."""


# CPython 3.11's frame layout: PyFrameObject.f_frame after the object header and
# f_back; in _PyInterpreterFrame, is_entry after eight pointers and an int.
_F_FRAME = 3 * ctypes.sizeof(ctypes.c_void_p)
_IS_ENTRY = 8 * ctypes.sizeof(ctypes.c_void_p) + ctypes.sizeof(ctypes.c_int)


def _entered_from_c(frame: types.FrameType) -> bool:
    """Whether ``frame`` was entered from C (not inlined by its caller's ``CALL``)."""
    data = ctypes.c_void_p.from_address(id(frame) + _F_FRAME).value
    assert data is not None
    return ctypes.c_bool.from_address(data + _IS_ENTRY).value


def codes_of(*owners: object) -> frozenset[types.CodeType]:
    """Every code object of ``owners`` (modules, classes, functions), nested ones too."""
    found: set[types.CodeType] = set()

    def walk(code: types.CodeType) -> None:
        if code not in found:
            found.add(code)
            for const in code.co_consts:
                if isinstance(const, types.CodeType):
                    walk(const)

    def visit(owner: object, seen: set[int]) -> None:
        if id(owner) in seen:
            return
        seen.add(id(owner))
        code = getattr(owner, "__code__", None)
        if isinstance(code, types.CodeType):
            walk(code)
            return
        if isinstance(owner, types.ModuleType):
            members: Iterable[object] = (
                value
                for value in vars(owner).values()
                if getattr(value, "__module__", None) == owner.__name__
            )
        elif isinstance(owner, type):
            members = vars(owner).values()
        else:
            return
        for member in members:
            visit(getattr(member, "__func__", member), seen)

    seen: set[int] = set()
    for owner in owners:
        visit(owner, seen)
    return frozenset(found)


class _Injector:
    """The trace and profile functions: count the checks in ``codes``' frames, raise at
    the ``at``-th."""

    def __init__(self, codes: frozenset[types.CodeType], at: int) -> None:
        self.codes = codes
        self.at = at
        self.seen = 0
        self.fired = False
        self.where = ""
        self._ops: dict[types.CodeType, dict[int, str]] = {}
        # Traced frames and their call under way: "" none (or one ending unchecked: a
        # Python function called by name), "call" a CALL, "builtin" a builtin's call.
        self._calling: dict[types.FrameType, str] = {}
        # __init__ frames a traced frame's class call ran: their return ends the call.
        self._inits: dict[types.FrameType, types.FrameType] = {}

    def forget_frames(self) -> None:
        """Let go of the frames seen (and so of what their locals hold), as a host that
        handled the exception would."""
        self._calling.clear()
        self._inits.clear()

    def _point(self, frame: types.FrameType, what: str) -> None:
        if self.seen == self.at:
            self.fired = True
            self.where = f"point {self.at}: {what} in {frame.f_code.co_qualname}:{frame.f_lineno}"
            signal.raise_signal(_SIGNAL)  # its handler raises, out of this hook
        self.seen += 1

    def _end_of_call(self, frame: types.FrameType, what: str) -> None:
        if self._calling.get(frame):
            self._calling[frame] = ""
            self._point(frame, what)

    def _opname(self, code: types.CodeType, offset: int) -> str:
        ops = self._ops.get(code)
        if ops is None:
            ops = self._ops[code] = {i.offset: i.opname for i in dis.get_instructions(code)}
        return ops.get(offset, "")

    def trace(self, frame: types.FrameType, event: str, arg: object) -> Any:
        if event != "call" or self.fired:
            return None
        caller = frame.f_back
        local = None
        if caller is not None and self._calling.get(caller) == "call":
            code = frame.f_code
            if code.co_name in _MADE:  # a class call: checked after type.__call__
                self._inits[frame] = caller
                local = self._local
            elif not code.co_flags & _RESUMABLE and not _entered_from_c(frame):
                self._calling[caller] = ""  # inlined: no check on its return
        if frame.f_code in self.codes:
            self._calling[frame] = ""
            frame.f_trace_opcodes = True
            local = self._local
            self._point(frame, "entering")
        frame.f_trace_lines = False
        return local

    def _local(self, frame: types.FrameType, event: str, arg: object) -> Any:
        if self.fired:
            return None
        if event == "return":
            self._calling.pop(frame, None)
            caller = self._inits.pop(frame, None)
            if caller is not None:
                self._end_of_call(caller, "as a class call returned")
            return None
        if event != "opcode" or frame not in self._calling:
            return self._local
        self._end_of_call(frame, "after a C call")  # no hook told when it ended
        name = self._opname(frame.f_code, frame.f_lasti)
        if name in _JUMPS:
            self._point(frame, "at a backward jump")
        self._calling[frame] = "call" if name in _CALLS else ""
        return self._local

    def profile(self, frame: types.FrameType, event: str, arg: object) -> None:
        if self.fired:
            return
        if event == "c_call" and self._calling.get(frame):
            self._calling[frame] = "builtin"  # Python it calls back (a key=) is no callee
        elif event == "c_return":
            self._end_of_call(frame, f"as {getattr(arg, '__qualname__', arg)} returned")
        elif event == "c_exception" and frame in self._calling:
            self._calling[frame] = ""  # it raised: nothing is left to store


def interrupt_each_point(
    call: Callable[[], T],
    codes: frozenset[types.CodeType],
    after: Callable[[str], None],
    *,
    limit: int = 5000,
    raising: type[BaseException] = Interrupted,
) -> tuple[T, int]:
    """Call ``call`` once per check point in ``codes``' frames, interrupted there.

    Each interrupted call must raise what the handler raised, ``raising`` (by default
    :class:`Interrupted`; :class:`Aborted` for one no ``except Exception`` catches):
    not swallowed, not replaced; ``after(where)`` then checks what that interruption
    left (``where``: the point's number, kind, function and line). Returns the result
    of the first call that got through untouched, and how many points it passed (the
    caller cleans up after it). Skips the test where the model is not this
    interpreter's eval loop.
    """
    if not MODELLED:
        pytest.skip("the signal check points are modelled on CPython 3.11's eval loop")

    def handler(signum: int, frame: object) -> None:
        raise raising(signum)

    previous_handler = signal.signal(_SIGNAL, handler)
    previous_trace, previous_profile = sys.gettrace(), sys.getprofile()
    try:
        for at in range(limit):
            injector = _Injector(codes, at)
            raised: BaseException | None = None
            sys.setprofile(injector.profile)
            sys.settrace(injector.trace)
            try:
                result = call()
            except BaseException as exc:  # checked below
                raised = exc
            finally:
                sys.settrace(previous_trace)
                sys.setprofile(previous_profile)
                injector.forget_frames()
            if not injector.fired:
                if raised is not None:
                    raise raised
                return result, at
            assert type(raised) is raising, f"{injector.where}: the interruption became {raised!r}"
            # Its traceback holds the interrupted frames, and what they held (an open file
            # object, say): let go of it, as a host that handled the exception would.
            raised = None
            after(injector.where)
        raise AssertionError(f"more than {limit} points")
    finally:
        signal.signal(_SIGNAL, previous_handler)
