"""``tar_create`` / ``tar_extract`` for GNU tar, with ``TarCreateOptions``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cuprum import TAR, InvalidArgumentError, SafeCmd, sh
from cuprum.builders._paths import PathArg, as_safe_path, check_switches, options_of

__all__ = ["TarCreateOptions", "tar_create", "tar_extract"]

# GNU tar reads an archive name with a colon before any slash as HOST:FILE and
# contacts that host; --force-local keeps every archive a local file.
_FORCE_LOCAL = "--force-local"


@dataclass(frozen=True, slots=True)
class TarCreateOptions:
    """Switches for :func:`tar_create`; each ``True`` adds exactly one flag.

    Compression: at most one of ``gzip`` (``--gzip``), ``bzip2`` (``--bzip2``),
    ``xz`` (``--xz``). ``verbose`` (``--verbose``) lists members on stdout.
    ``base_dir`` (``--directory=DIR``): tar changes there first, so relative
    sources are read from it and stored without its prefix. ``allow_relative``:
    accept relative archive, source and ``base_dir`` paths.
    """

    gzip: bool = False
    bzip2: bool = False
    xz: bool = False
    verbose: bool = False
    base_dir: PathArg | None = None
    allow_relative: bool = False

    def __post_init__(self) -> None:
        check_switches(
            "tar: TarCreateOptions.",
            gzip=self.gzip,
            bzip2=self.bzip2,
            xz=self.xz,
            verbose=self.verbose,
            allow_relative=self.allow_relative,
        )
        if sum((self.gzip, self.bzip2, self.xz)) > 1:
            raise InvalidArgumentError(
                "tar: TarCreateOptions: choose at most one of gzip, bzip2, xz"
            )


def tar_create(
    archive: PathArg,
    sources: Iterable[PathArg],
    *,
    options: TarCreateOptions | None = None,
) -> SafeCmd:
    """``tar --create --force-local --file=ARCHIVE [FLAGS] -- SOURCE...``.

    Absolute sources are stored without their leading ``/`` (tar's own rule);
    use ``base_dir`` with relative sources to choose the stored names.
    """
    opts = options_of("tar_create", options, TarCreateOptions)
    relative = opts.allow_relative
    if isinstance(sources, str):
        raise InvalidArgumentError("tar_create: sources is an iterable of paths, not a str")
    if not isinstance(sources, Iterable):
        raise InvalidArgumentError(
            f"tar_create: sources must be an iterable of paths, not {type(sources).__name__}"
        )
    members = [
        as_safe_path(source, allow_relative=relative, name=f"tar_create: sources[{index}]")
        for index, source in enumerate(sources)
    ]
    if not members:
        raise InvalidArgumentError("tar_create: at least one source is required")
    file = as_safe_path(archive, allow_relative=relative, name="tar_create: archive")
    args = ["--create", _FORCE_LOCAL, f"--file={file}"]
    for enabled, flag in (
        (opts.gzip, "--gzip"),
        (opts.bzip2, "--bzip2"),
        (opts.xz, "--xz"),
        (opts.verbose, "--verbose"),
    ):
        if enabled:
            args.append(flag)
    if opts.base_dir is not None:
        where = "tar_create: TarCreateOptions.base_dir"
        base = as_safe_path(opts.base_dir, allow_relative=relative, name=where)
        args.append(f"--directory={base}")
    return sh.make(TAR)(*args, "--", *members)


def tar_extract(
    archive: PathArg,
    *,
    destination: PathArg | None = None,
    allow_relative: bool = False,
) -> SafeCmd:
    """``tar --extract --force-local --file=ARCHIVE [--directory=DESTINATION]``.

    Compression is detected from the archive. Without ``destination`` members
    are extracted into the working directory. GNU tar refuses members with
    ``..`` and strips a leading ``/`` by default.
    """
    file = as_safe_path(archive, allow_relative=allow_relative, name="tar_extract: archive")
    args = ["--extract", _FORCE_LOCAL, f"--file={file}"]
    if destination is not None:
        where = "tar_extract: destination"
        target = as_safe_path(destination, allow_relative=allow_relative, name=where)
        args.append(f"--directory={target}")
    return sh.make(TAR)(*args)
