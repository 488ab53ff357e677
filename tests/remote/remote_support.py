"""Programs for the remote tests: a small catalogue with printf and sh for probes."""

from __future__ import annotations

from cuprum import (
    CAT,
    ECHO,
    FALSE,
    HEAD,
    SLEEP,
    TRUE,
    WC,
    Program,
    ProgramCatalogue,
    ProjectSettings,
    sh,
)
from cuprum.remote import SshHost

from .sshd_daemon import Daemon

PRINTF = Program("printf")
SH = Program("/bin/sh")
PROJECT = ProjectSettings(
    name="remote-tests", programs=(PRINTF, SH, CAT, ECHO, FALSE, HEAD, SLEEP, TRUE, WC)
)
CATALOGUE = ProgramCatalogue(projects=(PROJECT,))

printf = sh.make(PRINTF, catalogue=CATALOGUE)
shell = sh.make(SH, catalogue=CATALOGUE)
cat = sh.make(CAT, catalogue=CATALOGUE)
echo = sh.make(ECHO, catalogue=CATALOGUE)
false = sh.make(FALSE, catalogue=CATALOGUE)
head = sh.make(HEAD, catalogue=CATALOGUE)
sleep = sh.make(SLEEP, catalogue=CATALOGUE)
true = sh.make(TRUE, catalogue=CATALOGUE)
wc = sh.make(WC, catalogue=CATALOGUE)


def make_host(daemon: Daemon, user: str | None = None, name: str | None = None) -> SshHost:
    """A host value for the daemon (as ``user``, labelled ``name``)."""
    return SshHost(
        "127.0.0.1",
        port=daemon.port,
        user=user or daemon.user,
        identity_file=daemon.identity,
        known_hosts=daemon.known_hosts,
        name=name,
    )
