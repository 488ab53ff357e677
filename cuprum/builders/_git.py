"""Builders for git: ``git_checkout``, ``git_status`` and ``git_rev_parse``.

Refs are validated by :class:`GitRef`, so none starts with ``-``. ``git checkout``
gets a ``--`` after the ref: without it a name that is not a branch but matches
a file would silently restore that file instead of failing.
"""

from __future__ import annotations

from typing import Literal

from cuprum import GIT, InvalidArgumentError, SafeCmd, sh
from cuprum.builders._paths import PathArg, as_safe_path, check_switches
from cuprum.builders._refs import GitRef

__all__ = ["git_checkout", "git_rev_parse", "git_status"]

UntrackedFiles = Literal["no", "normal", "all"]


def _git(who: str, repo: PathArg | None, allow_relative: bool, *args: str) -> SafeCmd:
    prefix: tuple[str, ...] = ()
    if repo is not None:
        # -C takes the next word as its value; SafePath also refuses a leading '-'.
        prefix = ("-C", as_safe_path(repo, allow_relative=allow_relative, name=f"{who}: repo"))
    return sh.make(GIT)(*prefix, *args)


def _ref(value: str, who: str, what: str) -> GitRef:
    if isinstance(value, GitRef):
        return value
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{who}: {what} must be str, not {type(value).__name__}")
    try:
        return GitRef(value)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{who}: {what}: {exc}") from None


def git_checkout(
    ref: str,
    *,
    create_branch: bool = False,
    start_point: str | None = None,
    force: bool = False,
    repo: PathArg | None = None,
    allow_relative: bool = False,
) -> SafeCmd:
    """``git checkout [--force] [-b] REF [START_POINT] --``.

    ``create_branch=True`` creates branch ``ref`` (``-b``), optionally at
    ``start_point`` (a ref, a commit id or ``"HEAD"``). ``force`` discards local
    changes (``--force``). ``repo`` runs
    in that repository (``git -C REPO``); a relative ``repo`` needs
    ``allow_relative=True``.
    """
    check_switches(
        "git_checkout: ", create_branch=create_branch, force=force, allow_relative=allow_relative
    )
    branch = _ref(ref, "git_checkout", "ref")
    args: list[str] = ["checkout"]
    if force:
        args.append("--force")
    if create_branch:
        args += ["-b", branch]
        if start_point is not None:  # "HEAD" too: a start point is a commit, not a branch
            where = "HEAD" if start_point == "HEAD" else None
            args.append(where or _ref(start_point, "git_checkout", "start_point"))
    else:
        if start_point is not None:
            raise InvalidArgumentError("git_checkout: start_point needs create_branch=True")
        args.append(branch)
    args.append("--")
    return _git("git_checkout", repo, allow_relative, *args)


def git_status(
    *,
    porcelain: bool = True,
    branch: bool = False,
    untracked_files: UntrackedFiles | None = None,
    repo: PathArg | None = None,
    allow_relative: bool = False,
) -> SafeCmd:
    """``git status [--porcelain] [--branch] [--untracked-files=MODE]``.

    ``porcelain`` (default on) gives the stable machine-readable format.
    """
    check_switches(
        "git_status: ", porcelain=porcelain, branch=branch, allow_relative=allow_relative
    )
    args: list[str] = ["status"]
    if porcelain:
        args.append("--porcelain")
    if branch:
        args.append("--branch")
    if untracked_files is not None:
        if untracked_files not in ("no", "normal", "all"):
            raise InvalidArgumentError(
                f"git_status: untracked_files must be 'no', 'normal' or 'all', "
                f"not {untracked_files!r}"
            )
        args.append(f"--untracked-files={untracked_files}")
    return _git("git_status", repo, allow_relative, *args)


def git_rev_parse(
    ref: str = "HEAD",
    *,
    short: bool = False,
    abbrev_ref: bool = False,
    repo: PathArg | None = None,
    allow_relative: bool = False,
) -> SafeCmd:
    """``git rev-parse --verify [--short | --abbrev-ref] REF``.

    ``ref`` is ``"HEAD"`` or a :class:`GitRef` (a commit id is one). ``short``
    prints an abbreviated id; ``abbrev_ref`` prints the short ref name instead
    (for ``HEAD``: the current branch).
    """
    check_switches(
        "git_rev_parse: ", short=short, abbrev_ref=abbrev_ref, allow_relative=allow_relative
    )
    if short and abbrev_ref:
        raise InvalidArgumentError("git_rev_parse: choose short or abbrev_ref, not both")
    target = "HEAD" if ref == "HEAD" else _ref(ref, "git_rev_parse", "ref")
    args: list[str] = ["rev-parse", "--verify"]
    if short:
        args.append("--short")
    if abbrev_ref:
        args.append("--abbrev-ref")
    args.append(target)
    return _git("git_rev_parse", repo, allow_relative, *args)
