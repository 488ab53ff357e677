//! Native spawn: start a program in a cgroup (or not) without `preexec_fn`.
//!
//! [`spawn`] prepares every string and array first, blocks all signals,
//! creates the child with `clone3` (`CLONE_PIDFD`, plus `CLONE_INTO_CGROUP`
//! when a cgroup v2 directory descriptor is given, so the child never runs
//! outside it), and restores the mask. The child ([`child`]) then maps the
//! caller's descriptors onto 0, 1 and 2, closes every other descriptor,
//! resets signal dispositions and the mask, enters a new process group (or
//! session, optionally taking a controlling terminal), applies resource
//! limits, changes directory and execs. If any step fails it writes the step
//! and errno to a CLOEXEC pipe and exits 127; the parent reads the pipe
//! (end-of-file means the exec happened), reaps such a child and returns the
//! error, so the caller can raise `OSError` with the right errno.
//!
//! By default the child shares the parent's memory until it execs
//! (`CLONE_VM | CLONE_VFORK`, as `posix_spawn` and CPython's vfork path do):
//! no page tables are copied, which is what makes a spawn from a large
//! parent cheap.

mod child;
mod clone;
#[cfg(test)]
mod tests;

pub use child::{Rlimit, Stage};
pub use clone::SHARED_MEMORY_AVAILABLE;

use child::ChildCtx;
use libc::{c_char, c_int, pid_t};
use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;

/// What to start and how. Every string is already NUL-checked.
#[derive(Debug, Default)]
pub struct Spec {
    /// Absolute path of the program (no `PATH` search happens here).
    pub path: CString,
    /// `argv`, program name first (not empty).
    pub argv: Vec<CString>,
    /// The whole environment, `NAME=value` each (an owned copy: a child sharing
    /// our memory must not exec with libc's live array, which another thread's
    /// `setenv` may move and free meanwhile).
    pub env: Vec<CString>,
    /// Parent descriptors that become the child's 0, 1 and 2.
    pub fds: [RawFd; 3],
    /// Directory to change to before exec.
    pub cwd: Option<CString>,
    /// cgroup v2 directory descriptor to start the child in.
    pub cgroup: Option<RawFd>,
    /// Open `cgroup.procs` files of other hierarchies (cgroup v1) that the
    /// child joins before anything else, so it never runs outside them.
    pub join_cgroups: Vec<RawFd>,
    /// `setsid()` instead of `setpgid(0, 0)`.
    pub new_session: bool,
    /// Child descriptor (0..=2) to make the controlling terminal (needs `new_session`).
    pub controlling_tty: Option<RawFd>,
    /// Limits set in the child, in order.
    pub rlimits: Vec<Rlimit>,
    /// Copy-on-write child instead of the shared-memory (`vfork`-style) one.
    pub copy_on_write: bool,
}

/// A started child: its pid and a pidfd (`None` on kernels without pidfds).
#[derive(Debug, PartialEq, Eq)]
pub struct Spawned {
    pub pid: pid_t,
    pub pidfd: Option<RawFd>,
}

/// Why the program did not start: the step that failed and its OS error.
#[derive(Debug)]
pub struct SpawnError {
    pub stage: Stage,
    pub error: io::Error,
}

impl SpawnError {
    fn os(stage: Stage, errno: c_int) -> SpawnError {
        SpawnError {
            stage,
            error: io::Error::from_raw_os_error(errno),
        }
    }
}

/// Start `spec`; see the module documentation.
pub fn spawn(spec: &Spec) -> Result<Spawned, SpawnError> {
    spawn_with(spec, How::Clone)
}

/// How the child is created.
#[derive(Clone, Copy)]
enum How {
    /// `clone3` (falls back to `fork` by itself where `clone3` is missing).
    Clone,
    /// `fork()` plus `pidfd_open`: the fallback, reachable directly in tests.
    #[cfg_attr(not(test), allow(dead_code))]
    Fork,
}

fn spawn_with(spec: &Spec, how: How) -> Result<Spawned, SpawnError> {
    if spec.argv.is_empty() || spec.path.as_bytes().first() != Some(&b'/') {
        return Err(SpawnError::os(Stage::Exec, libc::EINVAL));
    }
    let bad_tty = spec.controlling_tty.is_some_and(|fd| !(0..3).contains(&fd));
    let fds = spec.fds.iter().chain(&spec.join_cgroups);
    if fds.copied().any(|fd| fd < 0) || bad_tty {
        return Err(SpawnError::os(Stage::Fds, libc::EBADF));
    }
    let argv = pointers(&spec.argv);
    let envp = pointers(&spec.env);
    let (read_end, write_end) = error_pipe().map_err(|error| SpawnError {
        stage: Stage::Clone,
        error,
    })?;
    let ctx = ChildCtx {
        path: spec.path.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        fds: spec.fds,
        cwd: spec.cwd.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        new_session: spec.new_session,
        tty: spec.controlling_tty.unwrap_or(-1),
        rlimits: spec.rlimits.as_ptr(),
        n_rlimits: spec.rlimits.len(),
        join_fds: spec.join_cgroups.as_ptr(),
        n_join_fds: spec.join_cgroups.len(),
        err_fd: write_end.0,
        nsig: libc::SIGRTMAX() + 1,
        max_fd: max_fd(),
    };
    let cloned = {
        let _blocked = SignalsBlocked::new();
        // SAFETY: `ctx` and everything it points to live until after the
        // child has exec'd (we read the error pipe to its end below).
        unsafe {
            match how {
                How::Clone => clone::clone_child(&ctx, spec.cgroup, !spec.copy_on_write),
                How::Fork => clone::fork_child(&ctx),
            }
        }
    };
    drop(write_end);
    let cloned = cloned.map_err(|error| SpawnError {
        stage: Stage::Clone,
        error,
    })?;
    let report = read_report(&read_end);
    drop(read_end);
    let pidfd = (cloned.pidfd >= 0).then_some(cloned.pidfd);
    match report {
        None => Ok(Spawned {
            pid: cloned.pid,
            pidfd,
        }),
        Some((stage, errno)) => {
            reap(cloned.pid);
            if let Some(fd) = pidfd {
                // SAFETY: the pidfd is ours and not handed out.
                unsafe { libc::close(fd) };
            }
            Err(SpawnError::os(stage, errno))
        }
    }
}

/// NULL-terminated array of pointers into `strings`.
fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// An owned descriptor, closed on drop.
struct Fd(RawFd);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.0) };
    }
}

/// A CLOEXEC pipe whose write end is above 2, so the child's `dup2`s onto
/// 0..=2 cannot overwrite it (the parent may be running with 0-2 closed).
fn error_pipe() -> io::Result<(Fd, Fd)> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` is a valid two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let (read_end, mut write_end) = (Fd(fds[0]), Fd(fds[1]));
    if write_end.0 < 3 {
        // SAFETY: duplicating our own descriptor.
        let high = unsafe { libc::fcntl(write_end.0, libc::F_DUPFD_CLOEXEC, 3) };
        if high < 0 {
            return Err(io::Error::last_os_error());
        }
        write_end = Fd(high);
    }
    Ok((read_end, write_end))
}

/// The child's report (stage, errno), or `None` at end-of-file: it exec'd.
fn read_report(read_end: &Fd) -> Option<(Stage, c_int)> {
    let mut buf = [0u8; 5];
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reading into the unfilled part of a local buffer.
        let n = unsafe { libc::read(read_end.0, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        if n <= 0 {
            break;
        }
        got += n as usize;
    }
    if got == 0 {
        return None;
    }
    if got < buf.len() {
        return Some((Stage::Exec, libc::EIO));
    }
    let errno = c_int::from_ne_bytes([buf[1], buf[2], buf[3], buf[4]]);
    Some((Stage::from_byte(buf[0]), errno))
}

/// SIGKILL a started child's process group (it leads one from before its
/// exec), reap it and close its pidfd: for a start that cannot be handed over.
pub fn discard(child: Spawned) {
    // SAFETY: signalling our own, not yet reaped, child: its pid (and group
    // id) cannot name another process until the reap below.
    unsafe {
        if libc::kill(-child.pid, libc::SIGKILL) < 0 {
            libc::kill(child.pid, libc::SIGKILL);
        }
    }
    reap(child.pid);
    if let Some(fd) = child.pidfd {
        // SAFETY: the pidfd is ours and not handed out.
        unsafe { libc::close(fd) };
    }
}

/// Reap a child that failed before exec (it has exited or is about to).
fn reap(pid: pid_t) {
    let mut status = 0;
    // SAFETY: waiting for our own child.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0
        && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
    {}
}

/// Highest descriptor the close loop must cover where `close_range` is missing.
fn max_fd() -> c_int {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit into a local.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } < 0 {
        return 1024;
    }
    limit.rlim_cur.min(1 << 20) as c_int
}

/// Every signal blocked in the calling thread while it lives.
struct SignalsBlocked(libc::sigset_t);

impl SignalsBlocked {
    fn new() -> SignalsBlocked {
        // SAFETY: plain sigset manipulation on locals.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            SignalsBlocked(old)
        }
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restoring the mask saved in `new`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}
