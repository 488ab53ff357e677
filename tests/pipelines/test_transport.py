"""The transport layer on its own: relays by name, and hops that clean up after themselves."""

from __future__ import annotations

import os

import pytest
from processes import open_fds

from cuprum._transport.dispatch import Strategy, relay_for
from cuprum._transport.hop import DirectHop, RelayHop, open_hop
from cuprum._transport.python import python_relay


def test_direct_is_not_a_relay() -> None:
    with pytest.raises(ValueError, match="'direct' is not a relaying strategy"):
        relay_for("direct")
    assert relay_for("python") is python_relay


@pytest.mark.parametrize("strategy", ["direct", "python"])
def test_a_hop_that_never_ran_closes_every_fd(strategy: Strategy) -> None:
    before = open_fds()
    let_go: list[bool] = []
    hop = open_hop(strategy, lambda: let_go.append(True))
    assert isinstance(hop, DirectHop if strategy == "direct" else RelayHop)
    assert hop.relayed is (strategy != "direct")
    os.fstat(hop.upstream_fd)
    os.fstat(hop.downstream_fd)
    hop.close()
    hop.close()  # idempotent
    assert open_fds() == before
    assert let_go == []


def test_a_direct_hop_lets_go_of_its_reader_once_the_downstream_exits() -> None:
    before = open_fds()
    let_go: list[bool] = []
    hop = DirectHop(lambda: let_go.append(True))
    writer = os.dup(hop.upstream_fd)  # an upstream "child" still holding the write end
    hop.spawned()
    hop.downstream_exited()
    assert let_go == [True]  # the upstream could get SIGPIPE from now on
    with pytest.raises(BrokenPipeError):
        os.write(writer, b"x")
    os.close(writer)
    hop.close()
    assert open_fds() == before
