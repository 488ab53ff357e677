"""``rsync_sync`` and its ``RsyncOptions``: local directory mirroring with rsync."""

from __future__ import annotations

from dataclasses import dataclass

from cuprum import RSYNC, InvalidArgumentError, SafeCmd, sh
from cuprum.builders._paths import PathArg, SafePath, as_safe_path, check_switches, options_of

__all__ = ["RsyncOptions", "rsync_sync"]


@dataclass(frozen=True, slots=True)
class RsyncOptions:
    """Switches for :func:`rsync_sync`; each ``True`` adds exactly one flag.

    ``archive`` (``--archive``): recurse and keep permissions, times, links.
    ``delete`` (``--delete``): remove destination files absent from the source.
    ``dry_run`` (``--dry-run``), ``checksum`` (``--checksum``), ``compress``
    (``--compress``), ``verbose`` (``--verbose``).

    ``exclude``: patterns, each passed as the filter rule ``--filter=- PATTERN``, so
    a pattern only ever excludes (and, with ``delete``, protects) what it matches:
    rsync's rule syntax in it (``!``, ``+ X``, ``- X``, ``P X``, merge rules) is
    not interpreted. No pattern may be empty or hold a NUL or a line break.

    ``copy_contents`` (default on): a trailing ``/`` is added to the source so the
    destination mirrors the source directory's contents; turn it off to copy the
    source itself (a file, or a directory created inside the destination).
    ``allow_relative``: accept relative source and destination paths.
    """

    archive: bool = True
    delete: bool = False
    dry_run: bool = False
    checksum: bool = False
    compress: bool = False
    verbose: bool = False
    exclude: tuple[str, ...] = ()
    copy_contents: bool = True
    allow_relative: bool = False

    def __post_init__(self) -> None:
        check_switches(
            "rsync: RsyncOptions.",
            archive=self.archive,
            delete=self.delete,
            dry_run=self.dry_run,
            checksum=self.checksum,
            compress=self.compress,
            verbose=self.verbose,
            copy_contents=self.copy_contents,
            allow_relative=self.allow_relative,
        )
        object.__setattr__(self, "exclude", _patterns("exclude", self.exclude))

    def flags(self) -> list[str]:
        """The option words these settings stand for, in a fixed order."""
        flags: list[str] = []
        for enabled, flag in (
            (self.archive, "--archive"),
            (self.delete, "--delete"),
            (self.dry_run, "--dry-run"),
            (self.checksum, "--checksum"),
            (self.compress, "--compress"),
            (self.verbose, "--verbose"),
        ):
            if enabled:
                flags.append(flag)
        flags += [_exclude_rule(pattern) for pattern in self.exclude]
        return flags


def _patterns(field: str, patterns: object) -> tuple[str, ...]:
    """``patterns`` as a tuple, each checked; the error names rsync and the field."""
    if isinstance(patterns, str) or not isinstance(patterns, tuple | list):
        raise InvalidArgumentError(
            f"rsync: RsyncOptions.{field} is a tuple of patterns, not {type(patterns).__name__}"
        )
    plain: list[str] = []
    for index, pattern in enumerate(patterns):
        where = f"rsync: RsyncOptions.{field}[{index}]"
        if not isinstance(pattern, str):
            raise InvalidArgumentError(f"{where} is {type(pattern).__name__}, not str")
        text = str.__str__(pattern)  # its plain text, as for paths
        if not text:
            raise InvalidArgumentError(f"{where} is an empty pattern")
        if "\x00" in text or "\n" in text or "\r" in text:
            raise InvalidArgumentError(f"{where} contains a NUL or line break: {text!r}")
        plain.append(text)
    return tuple(plain)


def _exclude_rule(pattern: str) -> str:
    """The filter rule that excludes ``pattern`` and does nothing else.

    ``--exclude=PATTERN`` is not that: rsync reads a lone ``!`` in it as "clear the
    rules so far" and a leading ``+ `` or ``- `` as a rule of that kind, so with
    ``--delete`` the files earlier excludes protect would be deleted. In a ``-`` rule
    everything after the one space is the pattern, verbatim: ``- !`` excludes a
    file named ``!``.
    """
    return f"--filter=- {pattern}"


def _local(path: SafePath) -> str:
    # rsync reads "host:path" (a colon before any slash) as a remote location and
    # would start ssh; "./" keeps a relative path local.
    return path if path.is_absolute else f"./{path}"


def rsync_sync(
    source: PathArg,
    destination: PathArg,
    *,
    options: RsyncOptions | None = None,
) -> SafeCmd:
    """``rsync [FLAGS] -- SOURCE/ DESTINATION``: make ``destination`` mirror ``source``.

    Local paths only; see :class:`RsyncOptions` for the switches.
    """
    opts = options_of("rsync_sync", options, RsyncOptions)
    relative = opts.allow_relative
    src = _local(as_safe_path(source, allow_relative=relative, name="rsync_sync: source"))
    dest = _local(
        as_safe_path(destination, allow_relative=relative, name="rsync_sync: destination")
    )
    if opts.copy_contents and not src.endswith("/"):
        src += "/"
    return sh.make(RSYNC)(*opts.flags(), "--", src, dest)
