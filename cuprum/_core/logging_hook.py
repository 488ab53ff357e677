"""``logging_hook``: paired before/after hooks that log command start and exit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cuprum._core.context import HookRegistration, register_hooks
from cuprum._core.programs import display_name
from cuprum._core.results import CommandResult
from cuprum._core.secret import shown_argv
from cuprum._core.spec import CommandSpec

if TYPE_CHECKING:
    import logging

__all__ = ["logging_hook"]

_INFO = 20  # logging.INFO, without importing logging at import time


def logging_hook(
    *,
    logger: logging.Logger | None = None,
    start_level: int = _INFO,
    exit_level: int = _INFO,
) -> HookRegistration:
    """Log each command's start (program, argv) and exit (pid, code, duration, sizes).

    Returns the registration; use it with ``with`` or call ``detach()``.
    """
    import logging  # only when used: keeps `import cuprum` cheap

    _check_arguments(logger, start_level, exit_level)
    log = logger if logger is not None else logging.getLogger("cuprum")

    def on_start(cmd: CommandSpec) -> None:
        if log.isEnabledFor(start_level):
            program = display_name(cmd.program)
            argv = shown_argv(cmd.argv_with_program)  # secrets as ***
            log.log(
                start_level,
                "cuprum start program=%s argv=%s",
                program,
                list(argv),
                extra={"cuprum_program": program, "cuprum_argv": argv},
            )

    def on_exit(cmd: CommandSpec, result: CommandResult) -> None:
        if not log.isEnabledFor(exit_level):
            return
        stdout_len = len(result.stdout) if result.stdout is not None else 0
        stderr_len = len(result.stderr) if result.stderr is not None else 0
        log.log(
            exit_level,
            "cuprum exit program=%s pid=%s exit_code=%s duration_s=%.6f "
            "stdout_len=%d stderr_len=%d",
            display_name(cmd.program),
            result.pid,
            result.exit_code,
            result.duration_s,
            stdout_len,
            stderr_len,
            extra={
                "cuprum_program": display_name(cmd.program),
                "cuprum_pid": result.pid,
                "cuprum_exit_code": result.exit_code,
                "cuprum_duration_s": result.duration_s,
                "cuprum_stdout_len": stdout_len,
                "cuprum_stderr_len": stderr_len,
            },
        )

    return register_hooks(("before_hooks", on_start), ("after_hooks", on_exit))


def _check_arguments(logger: object, start_level: object, exit_level: object) -> None:
    """Refuse, when registered, what would fail in the hooks at every run."""
    for name, level in (("start_level", start_level), ("exit_level", exit_level)):
        if isinstance(level, bool) or not isinstance(level, int):
            raise TypeError(
                f"logging_hook(): {name} must be an int logging level (logging.INFO, ...), "
                f"got {level!r}"
            )
    if logger is not None and not all(
        callable(getattr(logger, method, None)) for method in ("log", "isEnabledFor")
    ):
        raise TypeError(
            f"logging_hook(): logger must be a logging.Logger (or a LoggerAdapter), got {logger!r}"
        )
