"""Scoped policy: allowlists that only narrow, allow(), registrations, isolation."""

from __future__ import annotations

import itertools
import pickle
import re
import threading
import warnings
from collections.abc import Callable

import anyio
import pytest
from core_support import SH, shell
from hypothesis import given
from hypothesis import strategies as st

from cuprum import (
    CAT,
    ECHO,
    LS,
    SLEEP,
    TRUE,
    WC,
    AllowRegistration,
    CuprumContext,
    ForbiddenProgramError,
    InvalidArgumentError,
    Program,
    ScopeConfig,
    after,
    allow,
    before,
    current_context,
    get_context,
    observe,
    scoped,
    sh,
)

UNIVERSE = (ECHO, LS, CAT, SLEEP, TRUE, WC)
programs = st.frozensets(st.sampled_from(UNIVERSE))


def test_default_context_permits_everything_but_lists_nothing() -> None:
    ctx = current_context()
    assert ctx == CuprumContext()
    assert ctx.permits(ECHO)
    assert not ctx.is_allowed(ECHO)
    ctx.check_permitted(ECHO)
    with pytest.raises(ForbiddenProgramError, match="echo"):
        ctx.check_allowed(ECHO)
    assert get_context is current_context


def test_is_allowed_is_literal_membership_and_permits_means_may_run() -> None:
    ctx = CuprumContext(allowlist=frozenset([ECHO]))
    assert ctx.is_allowed(ECHO) and ctx.permits(ECHO)
    assert not ctx.is_allowed(LS) and not ctx.permits(LS)
    ctx.check_allowed(ECHO)
    ctx.check_permitted(ECHO)
    with pytest.raises(ForbiddenProgramError, match=r"^ls: not allowed.*echo"):
        ctx.check_permitted(LS)
    assert issubclass(ForbiddenProgramError, PermissionError)


@pytest.mark.anyio
async def test_a_forbidden_run_names_its_program_in_an_attribute() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        with pytest.raises(ForbiddenProgramError) as on_loop:
            await shell("true").run()
        with pytest.raises(ForbiddenProgramError) as in_sync:
            await anyio.to_thread.run_sync(lambda: shell("true").run_sync())
    for excinfo in (on_loop, in_sync):
        error = excinfo.value
        assert error.program == SH
        assert str(error).startswith(f"{SH}: not allowed in the current context")
        copied = pickle.loads(pickle.dumps(error))
        assert (type(copied), copied.program, str(copied)) == (type(error), SH, str(error))


@pytest.mark.parametrize(
    ("args", "program", "text"),
    [
        (("rm", "not allowed"), "rm", "rm: not allowed"),
        (("rm: not allowed",), "rm", "rm: not allowed"),  # the earlier one-argument form
        (("not allowed",), None, "not allowed"),
    ],
)
def test_a_forbidden_program_error_made_by_hand(
    args: tuple[str, ...], program: str | None, text: str
) -> None:
    error = ForbiddenProgramError(*args)
    assert (error.program, str(error)) == (program, text)
    copied = pickle.loads(pickle.dumps(error))
    assert (copied.program, str(copied)) == (program, text)


def test_scope_on_an_empty_parent_becomes_the_base_and_is_restored() -> None:
    outer = current_context()
    with scoped(ScopeConfig(allowlist=frozenset([ECHO, LS]))) as ctx:
        assert ctx is current_context()
        assert ctx.allowlist == {ECHO, LS}
        with scoped(ScopeConfig(allowlist=frozenset([ECHO]))) as inner:
            assert inner.is_allowed(ECHO)
            assert not inner.is_allowed(LS)
            assert not inner.permits(LS)
        assert current_context() is ctx
    assert current_context() is outer


def test_scope_is_restored_when_the_block_raises() -> None:
    outer = current_context()
    with pytest.raises(KeyError), scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        raise KeyError("boom")
    assert current_context() is outer


def test_scope_without_allowlist_keeps_the_parents() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))), scoped(ScopeConfig()) as inner:
        assert inner.allowlist == {ECHO}


@given(st.lists(st.one_of(st.none(), programs), min_size=1, max_size=5))
def test_nested_scopes_never_widen(chain: list[frozenset[Program] | None]) -> None:
    """Whatever the scopes ask for, a program runs inside only if every enclosing
    scope that set a non-empty allowlist... and every one after it, permits it."""
    contexts: list[CuprumContext] = []

    def enter(depth: int) -> None:
        if depth == len(chain):
            return
        with scoped(ScopeConfig(allowlist=chain[depth])) as ctx:
            contexts.append(ctx)
            enter(depth + 1)

    enter(0)
    for parent, child in itertools.pairwise(contexts):
        for program in UNIVERSE:
            if child.permits(program):
                assert parent.permits(program), (parent, child, program)
            if parent.allowlist or parent.enforced:
                assert child.allowlist <= parent.allowlist
    # The innermost context permits exactly the intersection of the asks, once any
    # ask was non-empty (an empty first ask is the documented permissive default).
    asks = [ask for ask in chain if ask is not None]
    first = next((i for i, ask in enumerate(asks) if ask), None)
    if first is not None:
        expected = frozenset(UNIVERSE).intersection(*asks[first:])
        assert {p for p in UNIVERSE if contexts[-1].permits(p)} == expected


def test_disjoint_nested_scope_permits_nothing() -> None:
    """Regression: an empty intersection used to fall back to "permit everything"."""
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        with scoped(ScopeConfig(allowlist=frozenset([LS]))) as inner:
            assert not inner.permits(LS)
            assert not inner.permits(ECHO)
            assert not inner.permits(SH)
            with pytest.raises(ForbiddenProgramError):
                sh.make(LS)().run_sync()
            with pytest.raises(ForbiddenProgramError):
                shell("true").run_sync()
        with scoped(ScopeConfig(allowlist=frozenset())) as empty:
            assert not empty.permits(ECHO)


def test_allow_adds_until_detached() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        assert not current_context().is_allowed(LS)
        with allow(LS) as registration:
            assert isinstance(registration, AllowRegistration)
            assert registration.added == {LS}
            assert current_context().is_allowed(LS)
            assert current_context().permits(LS)
        assert not current_context().is_allowed(LS)
        assert current_context().is_allowed(ECHO)


def test_allow_detach_keeps_programs_that_were_already_listed() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        registration = allow(ECHO, LS)
        assert registration.added == {LS}
        registration.detach()
        registration.detach()  # a second detach does nothing
        assert current_context().allowlist == {ECHO}


def test_allow_on_a_permissive_context_lists_only_what_was_added() -> None:
    with scoped(ScopeConfig()):
        registration = allow(LS)
        assert current_context().is_allowed(LS)
        assert not current_context().permits(ECHO)
        registration.detach()
        assert not current_context().is_allowed(LS)
        assert current_context().permits(ECHO)  # back to no policy


def test_allow_inside_a_narrowed_scope_does_not_leak_out() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))) as outer:
        with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
            allow(LS)
            assert current_context().permits(LS)
        assert current_context() is outer
        assert not outer.permits(LS)


def test_scope_timeout_replaces_and_is_inherited() -> None:
    with scoped(ScopeConfig(timeout=5.0)) as outer:
        assert outer.timeout == 5.0
        with scoped(ScopeConfig()) as same:
            assert same.timeout == 5.0
        with scoped(ScopeConfig(timeout=1.0)) as inner:
            assert inner.timeout == 1.0
    assert current_context().timeout is None


def test_hook_registrations_detach_exactly_what_they_added() -> None:
    def hook(*args: object) -> None:
        pass

    def other(*args: object) -> None:
        pass

    with scoped(ScopeConfig()):
        first = before(hook)
        before(other)
        second = before(hook)
        assert current_context().before_hooks == (hook, other, hook)
        second.detach()
        assert current_context().before_hooks == (hook, other)
        first.detach()
        assert current_context().before_hooks == (other,)
        with after(hook), observe(hook):
            assert current_context().after_hooks == (hook,)
            assert current_context().observe_hooks == (hook,)
        assert current_context().after_hooks == ()
        assert current_context().observe_hooks == ()


def test_legacy_keyword_form_warns_and_still_narrows() -> None:
    legacy = scoped(allowlist=[ECHO], timeout=2.0)
    with pytest.warns(DeprecationWarning, match="ScopeConfig") as record:
        ctx = legacy.__enter__()  # the warning is raised as the block is entered
    try:
        assert ctx.allowlist == {ECHO}
        assert ctx.timeout == 2.0
    finally:
        legacy.__exit__(None, None, None)
    assert current_context() == CuprumContext()
    assert record[0].filename == __file__  # points at the caller's `with`
    with pytest.raises(TypeError), scoped(ScopeConfig(), allowlist=[ECHO]):
        pass


@pytest.mark.parametrize(
    ("make", "owner"),
    [
        (lambda value: ScopeConfig(allowlist=value), "ScopeConfig"),
        (lambda value: CuprumContext(allowlist=value), "CuprumContext"),
        (lambda value: scoped(allowlist=value).__enter__(), "ScopeConfig"),
    ],
)
@pytest.mark.parametrize(
    ("value", "shown"),
    [("echo", "'echo' (str)"), (5, "5 (int)"), (..., "Ellipsis"), ([ECHO, None], "(list)")],
)
def test_an_allowlist_that_is_not_a_collection_of_programs_is_refused(
    make: Callable[[object], object], owner: str, value: object, shown: str
) -> None:
    # "echo" used to become the allowlist {"e", "c", "h", "o"}: it permitted no echo.
    pattern = f"^{owner}: allowlist must be a collection of programs .*{re.escape(shown)}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy scoped() form
        with pytest.raises(InvalidArgumentError, match=pattern):
            make(value)
    assert current_context() == CuprumContext()


def test_an_allowlist_may_be_any_collection_of_programs() -> None:
    assert CuprumContext(allowlist=[ECHO]).allowlist == frozenset([ECHO])  # type: ignore[arg-type]
    config = ScopeConfig(allowlist={ECHO, LS})  # type: ignore[arg-type]
    assert config.allowlist == frozenset([ECHO, LS])
    with scoped(config) as ctx:
        assert ctx.permits(ECHO) and not ctx.permits(CAT)


def test_threads_do_not_see_each_others_scopes() -> None:
    barrier = threading.Barrier(2, timeout=10)
    seen: dict[str, tuple[frozenset[Program], bool, bool]] = {}
    errors: list[BaseException] = []

    def worker(name: str, allowed: Program, other: Program) -> None:
        try:
            assert current_context().allowlist == frozenset()  # main's scope not inherited
            with scoped(ScopeConfig(allowlist=frozenset([allowed]))):
                barrier.wait()  # both threads are inside their own scope now
                ok = sh.make(allowed)().run_sync().ok
                with pytest.raises(ForbiddenProgramError):
                    sh.make(other)().run_sync()
                seen[name] = (current_context().allowlist, ok, current_context().permits(other))
                barrier.wait()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    with scoped(ScopeConfig(allowlist=frozenset([CAT]))):
        threads = [
            threading.Thread(target=worker, args=("a", TRUE, LS)),
            threading.Thread(target=worker, args=("b", LS, TRUE)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert current_context().allowlist == {CAT}
    assert not errors, errors
    assert seen == {"a": (frozenset([TRUE]), True, False), "b": (frozenset([LS]), True, False)}


@pytest.mark.anyio
async def test_tasks_do_not_see_each_others_scopes() -> None:
    entered = [anyio.Event(), anyio.Event()]
    results: dict[str, tuple[bool, bool]] = {}

    async def worker(index: int, allowed: Program, other: Program) -> None:
        with scoped(ScopeConfig(allowlist=frozenset([allowed]))):
            entered[index].set()
            await entered[1 - index].wait()  # both scopes are open at once
            ok = (await sh.make(allowed)().run()).ok
            with pytest.raises(ForbiddenProgramError):
                await sh.make(other)().run()
            results[allowed] = (ok, current_context().permits(other))

    with scoped(ScopeConfig(allowlist=frozenset([TRUE, LS]))):
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker, 0, TRUE, LS)
            tg.start_soon(worker, 1, LS, TRUE)
        assert current_context().allowlist == {TRUE, LS}
    assert results == {TRUE: (True, False), LS: (True, False)}


@pytest.mark.anyio
async def test_hooks_registered_in_a_task_stay_in_it() -> None:
    calls: list[str] = []
    registered = anyio.Event()

    def hook(cmd: object) -> None:
        calls.append("hook")

    async def registers() -> None:
        with before(hook):
            registered.set()
            await sh.make(TRUE)().run()

    async def does_not() -> None:
        await registered.wait()
        await sh.make(TRUE)().run()

    async with anyio.create_task_group() as tg:
        tg.start_soon(registers)
        tg.start_soon(does_not)
    assert calls == ["hook"]
    assert current_context().before_hooks == ()


def _permits_in_thread(check: Callable[[], bool]) -> bool:
    out: list[bool] = []
    thread = threading.Thread(target=lambda: out.append(check()))
    thread.start()
    thread.join(10)
    return out[0]


def test_a_new_thread_starts_with_no_policy() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        assert _permits_in_thread(lambda: current_context().permits(LS))


# -- detach wherever it happens: nested scopes and tasks ------------------------------


def _runs(program: Program) -> bool:
    """Whether ``program`` may run here: a real run, or ForbiddenProgramError."""
    try:
        return sh.make(program)().run_sync().ok
    except ForbiddenProgramError:
        return False


def test_a_detach_in_a_nested_scope_stays_detached_once_it_exits() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        registration = allow(TRUE)
        with scoped(ScopeConfig()), scoped(ScopeConfig(allowlist=frozenset([ECHO, TRUE]))):
            assert _runs(TRUE)
            registration.detach()
            assert not current_context().permits(TRUE)
        # Was: each exiting block restored its parent, TRUE allowed again.
        assert current_context().allowlist == {ECHO}
        assert not _runs(TRUE)
        assert _runs(ECHO)
        registration.detach()  # a second detach does nothing
        assert current_context().allowlist == {ECHO}


def test_a_with_block_ending_in_a_nested_scope_detaches_outside_it_too() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        registration = allow(TRUE)
        with scoped(ScopeConfig()), registration:
            assert current_context().permits(TRUE)
        assert not current_context().permits(TRUE)


def test_a_detach_in_a_narrowed_scope_that_had_dropped_it_still_detaches_outside() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        registration = allow(TRUE)
        with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):  # narrowed TRUE out
            registration.detach()
        assert current_context().allowlist == {ECHO}


def test_a_late_detach_leaves_what_the_outer_scope_had_itself() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO, TRUE]))) as outer:
        with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
            registration = allow(TRUE)  # adds TRUE back to the narrowed list
            assert registration.added == {TRUE}
        assert current_context() is outer  # its scope's exit undid it
        registration.detach()  # was: removed the outer scope's own TRUE
        assert current_context().allowlist == {ECHO, TRUE}
        assert _runs(TRUE)


def test_a_detach_in_the_scope_it_was_made_in_is_unchanged() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        with scoped(ScopeConfig()) as inner:
            registration = allow(TRUE)
            registration.detach()
            assert current_context().allowlist == inner.allowlist == {ECHO}
        assert current_context().allowlist == {ECHO}


def test_hook_registrations_detached_in_a_nested_scope_stay_detached() -> None:
    def hook(*args: object) -> None:
        pass

    with scoped(ScopeConfig()):
        before_hook, after_hook = before(hook), after(hook)
        with scoped(ScopeConfig()):
            with scoped(ScopeConfig(before_hooks=(hook,))):
                before_hook.detach()
                assert current_context().before_hooks == (hook,)  # the scope's own
            after_hook.detach()
        assert current_context().before_hooks == ()
        assert current_context().after_hooks == ()


@pytest.mark.anyio
async def test_a_detach_in_a_task_is_that_tasks_and_lasts_through_its_scopes(
    anyio_backend: str,
) -> None:
    detached, parent_checked = anyio.Event(), anyio.Event()
    seen: dict[str, bool] = {}

    async def detaches(registration: AllowRegistration) -> None:
        with scoped(ScopeConfig()):
            with scoped(ScopeConfig()):
                registration.detach()
            detached.set()
            await parent_checked.wait()  # the parent looks while this scope is open
            seen["task, inner scope exited"] = current_context().permits(TRUE)
        seen["task, after its scopes"] = current_context().permits(TRUE)
        with pytest.raises(ForbiddenProgramError):
            await sh.make(TRUE)().run()

    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        registration = allow(TRUE)
        async with anyio.create_task_group() as tg:
            tg.start_soon(detaches, registration)
            await detached.wait()
            # Each task changes its own context: the parent's still holds TRUE ...
            seen["parent"] = (await sh.make(TRUE)().run()).ok
            parent_checked.set()
        # ... and it can still detach it (was: the task's detach had used it up).
        registration.detach()
        assert not current_context().permits(TRUE)
    assert seen == {
        "task, inner scope exited": False,
        "task, after its scopes": False,
        "parent": True,
    }


@pytest.mark.anyio
async def test_a_registration_made_in_a_task_detached_by_its_parent_is_not_the_parents(
    anyio_backend: str,
) -> None:
    made: list[AllowRegistration] = []

    async def registers() -> None:
        with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
            made.append(allow(TRUE))
            assert made[0].added == {TRUE}

    with scoped(ScopeConfig(allowlist=frozenset([ECHO, TRUE]))):
        async with anyio.create_task_group() as tg:
            tg.start_soon(registers)
        made[0].detach()  # live only in the task's scope, long gone
        assert current_context().allowlist == {ECHO, TRUE}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"before_hooks": print}, r"ScopeConfig.before_hooks must be a tuple of hooks"),
        ({"after_hooks": (None,)}, r"ScopeConfig.after_hooks: a hook must be callable"),
        ({"observe_hooks": "hook"}, r"ScopeConfig.observe_hooks must be a tuple of hooks"),
    ],
)
def test_a_scope_config_of_the_wrong_shape_is_refused_when_made(
    config: dict[str, object], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        ScopeConfig(**config)  # type: ignore[arg-type]


@pytest.mark.parametrize("allowlist", ["echo", ECHO, [ECHO, None]])
def test_a_scope_config_allowlist_of_the_wrong_shape_is_refused_when_made(
    allowlist: object,
) -> None:
    with pytest.raises(InvalidArgumentError, match=r"ScopeConfig: allowlist must be a collection"):
        ScopeConfig(allowlist=allowlist)  # type: ignore[arg-type]


def test_a_scope_config_takes_any_collection_of_programs_and_hooks() -> None:
    def hook(cmd: object) -> None:
        del cmd

    config = ScopeConfig(allowlist=[ECHO, LS], before_hooks=[hook])  # type: ignore[arg-type]
    assert config.allowlist == frozenset({ECHO, LS})
    assert config.before_hooks == (hook,)
    with scoped(config) as ctx:
        assert ctx.allowlist == {ECHO, LS} and ctx.before_hooks == (hook,)


def test_scoped_refuses_anything_but_a_scope_config() -> None:
    with pytest.raises(TypeError, match=r"scoped\(\) takes a ScopeConfig, got frozenset"):
        with scoped(frozenset([ECHO])):  # type: ignore[arg-type]
            pass
    assert current_context() == CuprumContext()


@pytest.mark.parametrize(
    ("register", "message"),
    [
        (lambda: before(None), r"before\(\): a hook must be callable, got None"),  # type: ignore[arg-type]
        (lambda: after("log"), r"after\(\): a hook must be callable, got 'log'"),  # type: ignore[arg-type]
        (lambda: observe(print, 3), r"observe\(\): a hook must be callable, got 3"),  # type: ignore[arg-type]
        (lambda: allow(ECHO, None), r"allow\(\): a program is a str, got None"),  # type: ignore[arg-type]
        (lambda: allow([ECHO]), r"allow\(\): a program is a str, got \['echo'\]"),  # type: ignore[arg-type]
    ],
)
def test_a_registration_of_the_wrong_kind_is_refused_and_registers_nothing(
    register: Callable[[], object], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        register()
    assert current_context() == CuprumContext()
    assert sh.make(ECHO)("-n", "ran").run_sync().stdout == "ran"


@pytest.mark.parametrize("first", ["a", "b"])
def test_two_allows_of_one_program_each_keep_their_grant(first: str) -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        registrations = {"a": allow(LS), "b": allow(LS)}
        registrations[first].detach()
        assert current_context().is_allowed(LS)  # the other one still grants it
        assert sh.make(LS)("/").run_sync().ok
        registrations["b" if first == "a" else "a"].detach()
        assert not current_context().is_allowed(LS)
        assert current_context().allowlist == {ECHO}


def test_a_grant_made_in_a_nested_scope_ends_with_it_even_if_it_kept_one_alive() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        outer = allow(LS)
        with scoped(ScopeConfig()):
            allow(LS)
            outer.detach()
            assert current_context().is_allowed(LS)  # the inner grant holds it here
        assert not current_context().is_allowed(LS)  # both are gone out here
        outer = allow(LS)
        with scoped(ScopeConfig()):
            allow(LS).detach()
            assert current_context().is_allowed(LS)  # the outer grant holds it
        assert current_context().is_allowed(LS)
        outer.detach()
        assert current_context().allowlist == {ECHO}


def test_an_allow_of_a_listed_program_never_removes_it() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO, LS]))):
        allow(LS, CAT).detach()
        with allow(CAT), allow(CAT):
            assert current_context().is_allowed(CAT)
        assert current_context().allowlist == {ECHO, LS}


@pytest.mark.anyio
async def test_a_task_detaching_one_of_two_grants_keeps_the_other() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        first = allow(LS)
        seen: list[bool] = []

        async def child() -> None:
            second = allow(LS)
            first.detach()
            seen.append(current_context().is_allowed(LS))
            second.detach()
            seen.append(current_context().is_allowed(LS))

        async with anyio.create_task_group() as tg:
            tg.start_soon(child)
        assert seen == [True, False]
        assert current_context().is_allowed(LS)  # the parent's grant is its own
        first.detach()
        assert not current_context().is_allowed(LS)
