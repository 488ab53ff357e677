"""A clean environment: loader variables refused in overlays unless the scope allows
them, a minimal environment on request, and an allowlist that can fail closed."""

from __future__ import annotations

import os

import pytest

from cuprum import (
    ECHO,
    LOADER_ENV_NAMES,
    ExecutionContext,
    ForbiddenProgramError,
    InvalidArgumentError,
    ScopeConfig,
    Secret,
    allow,
    before,
    scoped,
    sh,
)

from .security_support import CATALOGUE, ENV, Recorder, py

pytestmark = pytest.mark.anyio

SHOW = "import os, sys; print(os.environ.get(sys.argv[1], '<unset>'))"

LOADER = [
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "LD_DEBUG_OUTPUT",
    "GLIBC_TUNABLES",
    "GCONV_PATH",
    "DYLD_INSERT_LIBRARIES",
]


@pytest.mark.parametrize("name", LOADER)
async def test_an_overlay_setting_a_loader_variable_is_refused(name: str) -> None:
    rec, started = Recorder(), list[object]()
    ctx = ExecutionContext(env={"OK": "1", name: "/tmp/evil.so"})
    with sh.observe(rec), before(started.append), pytest.raises(InvalidArgumentError) as excinfo:
        await sh.make(ECHO)("hi").run(context=ctx)
    assert str(excinfo.value).startswith(f"echo: ExecutionContext.env sets {name}, a loader")
    assert "ScopeConfig(allow_loader_env=True)" in str(excinfo.value)
    assert "/tmp/evil.so" not in str(excinfo.value)
    assert rec.events == [] and started == []  # before any hook, event or process


def test_the_documented_loader_names_are_refused() -> None:
    for name in LOADER_ENV_NAMES:
        with pytest.raises(InvalidArgumentError, match=name):
            sh.make(ECHO)().run_sync(context=ExecutionContext(env={name: "x"}))


async def test_a_scope_may_allow_loader_variables_and_a_nested_one_refuse_them_again() -> None:
    ctx = ExecutionContext(env={"LD_LIBRARY_PATH": "/opt/cuprum-test/lib"})
    cmd = py(SHOW, "LD_LIBRARY_PATH")
    with scoped(ScopeConfig(allow_loader_env=True)):
        assert (await cmd.run(context=ctx)).stdout == "/opt/cuprum-test/lib\n"
        with scoped(ScopeConfig()):  # None keeps the parent's choice
            assert (await cmd.run(context=ctx)).ok
        with scoped(ScopeConfig(allow_loader_env=False)), pytest.raises(InvalidArgumentError):
            await cmd.run(context=ctx)
    with pytest.raises(InvalidArgumentError):
        await cmd.run(context=ctx)


async def test_a_loader_variable_inherited_from_the_parent_is_not_an_overlay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LD_LIBRARY_PATH", "/opt/cuprum-test/inherited")
    result = await py(SHOW, "LD_LIBRARY_PATH").run(context=ExecutionContext(env={"A": "1"}))
    assert result.stdout == "/opt/cuprum-test/inherited\n"


async def test_a_minimal_environment_holds_only_the_kept_names_and_the_overlay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CUPRUM_KEEP_ME", "kept")
    monkeypatch.setenv("CUPRUM_DROP_ME", "dropped")
    ctx = ExecutionContext(
        env={"CUPRUM_TOKEN": Secret("t0ken"), "LANG": "C"},
        inherit_env=False,
        keep_env=("CUPRUM_KEEP_ME", "CUPRUM_NOT_SET"),
    )
    env = sh.make(ENV, catalogue=CATALOGUE)()
    result = await env.run(context=ctx)
    assert sorted((result.stdout or "").splitlines()) == [
        "CUPRUM_KEEP_ME=kept",
        "CUPRUM_TOKEN=t0ken",
        "LANG=C",
    ]
    empty = await env.run(context=ExecutionContext(inherit_env=False))
    assert empty.stdout == ""
    assert "CUPRUM_DROP_ME" in os.environ  # the parent is untouched


async def test_keep_env_without_inherit_env_false_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="keep_env needs inherit_env=False"):
        await sh.make(ECHO)().run(context=ExecutionContext(keep_env=("HOME",)))
    with pytest.raises(InvalidArgumentError, match="keep_env must be a tuple"):
        await sh.make(ECHO)().run(
            context=ExecutionContext(inherit_env=False, keep_env="HOME")  # type: ignore[arg-type]
        )
    with pytest.raises(InvalidArgumentError, match="invalid variable name 'A=B'"):
        await sh.make(ECHO)().run(context=ExecutionContext(inherit_env=False, keep_env=("A=B",)))


async def test_an_env_secret_with_a_nul_byte_is_refused_without_showing_it() -> None:
    ctx = ExecutionContext(env={"CUPRUM_TOKEN": Secret("bad\x00value")})
    with pytest.raises(InvalidArgumentError) as excinfo:
        await sh.make(ECHO)().run(context=ctx)
    assert str(excinfo.value) == "echo: ExecutionContext.env['CUPRUM_TOKEN'] contains a NUL byte"


# -- fail closed ----------------------------------------------------------------------


async def test_an_empty_allowlist_is_permissive_by_default_but_can_fail_closed() -> None:
    with scoped(ScopeConfig(allowlist=frozenset())):
        assert (await sh.make(ECHO)("open").run()).ok
    with (
        scoped(ScopeConfig(allowlist=frozenset(), fail_closed=True)),
        pytest.raises(ForbiddenProgramError, match="echo: not allowed"),
    ):
        await sh.make(ECHO)("closed").run()


async def test_fail_closed_cannot_be_undone_further_down() -> None:
    with scoped(ScopeConfig(fail_closed=True)) as ctx:
        assert not ctx.permits(ECHO)
        with scoped(ScopeConfig(allowlist=frozenset([ECHO]))) as inner:
            assert not inner.permits(ECHO)  # narrowing an empty list stays empty
        with allow(ECHO):  # an explicit allow() still adds, as documented
            assert (await sh.make(ECHO)("allowed").run()).ok
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]), fail_closed=True)) as ctx:
        assert ctx.permits(ECHO)
