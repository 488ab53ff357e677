//! What the new child runs between `clone` and `execve`.
//!
//! Everything here may run in a child that shares the parent's memory
//! (`CLONE_VM | CLONE_VFORK`) or in a copy-on-write child of a threaded
//! parent, so it obeys the rules of both: only async-signal-safe system
//! calls, no allocation, no locks, no panics (no indexing that could fail,
//! no formatting), and nothing written to memory the parent can see except
//! through the error pipe. Every pointer it follows was prepared by the
//! parent before the clone and stays valid until the child has exec'd or
//! exited.

use libc::{c_char, c_int, c_uint, rlim_t};

/// Which step of the child failed; sent to the parent with the errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Stage {
    /// Creating the child (`clone3`/`fork`) or its error pipe, in the parent.
    Clone = 1,
    /// Joining an extra cgroup (writing "0" to its `cgroup.procs`).
    Cgroup = 8,
    /// Duplicating the standard descriptors or closing the others.
    Fds = 2,
    /// `setsid()` or `setpgid(0, 0)`.
    Session = 3,
    /// `ioctl(TIOCSCTTY)`.
    Terminal = 4,
    /// `setrlimit`.
    Rlimit = 5,
    /// `chdir`.
    Chdir = 6,
    /// `execve`.
    Exec = 7,
}

impl Stage {
    /// The stage a report byte names (unknown bytes count as `Exec`).
    pub fn from_byte(byte: u8) -> Stage {
        match byte {
            1 => Stage::Clone,
            2 => Stage::Fds,
            3 => Stage::Session,
            4 => Stage::Terminal,
            5 => Stage::Rlimit,
            6 => Stage::Chdir,
            8 => Stage::Cgroup,
            _ => Stage::Exec,
        }
    }

    /// A short name for messages ("chdir", "exec", ...).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Clone => "clone",
            Stage::Cgroup => "join cgroup",
            Stage::Fds => "fds",
            Stage::Session => "session",
            Stage::Terminal => "controlling terminal",
            Stage::Rlimit => "setrlimit",
            Stage::Chdir => "chdir",
            Stage::Exec => "exec",
        }
    }
}

/// One resource limit to set in the child before exec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Rlimit {
    /// `RLIMIT_*` constant.
    pub resource: c_int,
    /// Soft limit (`RLIM_INFINITY` for none).
    pub soft: rlim_t,
    /// Hard limit (`RLIM_INFINITY` for none).
    pub hard: rlim_t,
}

/// Everything the child needs, as raw pointers into parent-owned storage.
#[repr(C)]
pub struct ChildCtx {
    pub path: *const c_char,
    /// NULL-terminated.
    pub argv: *const *const c_char,
    /// NULL-terminated.
    pub envp: *const *const c_char,
    /// Parent descriptors that become the child's 0, 1 and 2.
    pub fds: [c_int; 3],
    /// NULL for "stay in the parent's directory".
    pub cwd: *const c_char,
    pub new_session: bool,
    /// Child descriptor (after the mapping) to make the controlling terminal, or -1.
    pub tty: c_int,
    pub rlimits: *const Rlimit,
    pub n_rlimits: usize,
    /// Open `cgroup.procs` files (v1 hierarchies) the child joins first.
    pub join_fds: *const c_int,
    pub n_join_fds: usize,
    /// Write end of the CLOEXEC error pipe.
    pub err_fd: c_int,
    /// One past the highest signal number (`SIGRTMAX() + 1`).
    pub nsig: c_int,
    /// Highest descriptor to close if `close_range` is missing.
    pub max_fd: c_int,
}

/// The child's whole life: set up, exec, or report why not and `_exit(127)`.
///
/// # Safety
/// `ctx` must point to a fully prepared [`ChildCtx`] whose pointers are valid.
pub unsafe extern "C" fn child_main(ctx: *const ChildCtx) -> ! {
    // SAFETY: the parent keeps `ctx` alive until the child has exec'd or exited.
    let ctx = unsafe { &*ctx };
    // SAFETY: only async-signal-safe calls on prepared data (module docs).
    let (stage, errno) = unsafe { run(ctx) };
    // SAFETY: as above; `report` writes five bytes from the child's own stack.
    unsafe {
        report(ctx, stage, errno);
        libc::_exit(127)
    }
}

/// Set up and exec; returns only on failure, with the failing stage and errno.
unsafe fn run(ctx: &ChildCtx) -> (Stage, c_int) {
    // SAFETY: every call below is async-signal-safe and uses prepared data.
    unsafe {
        reset_signals(ctx.nsig);
        let err_fd = ctx.err_fd;
        // First, before any dup2 can reuse their numbers.
        for &fd in std::slice::from_raw_parts(ctx.join_fds, ctx.n_join_fds) {
            if libc::write(fd, b"0".as_ptr().cast(), 1) < 0 {
                return (Stage::Cgroup, errno());
            }
        }
        if let Err(errno) = map_fds(ctx.fds) {
            return (Stage::Fds, errno);
        }
        if let Err(errno) = close_others(err_fd, ctx.max_fd) {
            return (Stage::Fds, errno);
        }
        let session = if ctx.new_session {
            libc::setsid() as c_int
        } else {
            libc::setpgid(0, 0)
        };
        if session < 0 {
            return (Stage::Session, errno());
        }
        if ctx.tty >= 0 && libc::ioctl(ctx.tty, libc::TIOCSCTTY, 0) < 0 {
            return (Stage::Terminal, errno());
        }
        let limits = std::slice::from_raw_parts(ctx.rlimits, ctx.n_rlimits);
        for limit in limits {
            let value = libc::rlimit {
                rlim_cur: limit.soft,
                rlim_max: limit.hard,
            };
            if libc::setrlimit(limit.resource as _, &value) < 0 {
                return (Stage::Rlimit, errno());
            }
        }
        if !ctx.cwd.is_null() && libc::chdir(ctx.cwd) < 0 {
            return (Stage::Chdir, errno());
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::execve(ctx.path, ctx.argv, ctx.envp);
        (Stage::Exec, errno())
    }
}

fn errno() -> c_int {
    // SAFETY: reading the calling thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Every caught or ignored signal back to its default action.
///
/// Signals are blocked (the parent blocked them all before the clone), so no
/// handler can run in the child meanwhile. Ignored signals would survive
/// `execve` (a Python host ignores SIGPIPE and SIGXFSZ); caught ones would be
/// reset by it anyway, but must not run before it.
///
/// The raw system call, not glibc's `sigaction`: glibc refuses its own
/// signals 32 and 33, which a parent may have inherited as ignored. Only the
/// handler (the first word in every architecture's kernel `struct
/// sigaction`) is read; all-zero means `SIG_DFL`, no flags, empty mask.
unsafe fn reset_signals(nsig: c_int) {
    const KERNEL_SIGSET_SIZE: usize = 8;
    let default = [0u64; 4];
    for sig in 1..nsig {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        let mut old = [0u64; 4];
        // SAFETY: rt_sigaction on the child's own signal table (no
        // CLONE_SIGHAND); both buffers are larger than the kernel struct.
        unsafe {
            let query = libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                std::ptr::null::<u64>(),
                old.as_mut_ptr(),
                KERNEL_SIGSET_SIZE,
            );
            if query == 0 && old[0] != libc::SIG_DFL as u64 {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    default.as_ptr(),
                    std::ptr::null_mut::<u64>(),
                    KERNEL_SIGSET_SIZE,
                );
            }
        }
    }
}

/// Make `fds[i]` the child's descriptor `i`, whatever numbers they have now.
///
/// Each source is first copied above 2 (so a later `dup2` cannot overwrite a
/// source that is itself 0, 1 or 2), then `dup2`ed into place, which also
/// clears `FD_CLOEXEC` on the target.
/// The error pipe is above 2 already (the parent made sure), so it survives.
unsafe fn map_fds(fds: [c_int; 3]) -> Result<(), c_int> {
    let mut high = [-1; 3];
    for (slot, fd) in high.iter_mut().zip(fds) {
        // SAFETY: fcntl on a descriptor the parent handed over.
        let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        if copy < 0 {
            return Err(errno());
        }
        *slot = copy;
    }
    for (target, fd) in (0..3).zip(high) {
        // SAFETY: dup2 between valid descriptors.
        if unsafe { libc::dup2(fd, target) } < 0 {
            return Err(errno());
        }
    }
    Ok(())
}

/// Close (on exec) every descriptor above 2; the error pipe is CLOEXEC already.
unsafe fn close_others(err_fd: c_int, max_fd: c_int) -> Result<(), c_int> {
    const ALL: c_uint = c_uint::MAX;
    // SAFETY: close_range only changes this process's descriptor table.
    unsafe {
        if close_range(3, ALL, libc::CLOSE_RANGE_CLOEXEC) == 0 {
            return Ok(());
        }
        let first = errno();
        if first != libc::EINVAL && first != libc::ENOSYS {
            return Err(first);
        }
        // Before Linux 5.11 (no CLOSE_RANGE_CLOEXEC): close all but the pipe.
        let err = err_fd as c_uint;
        if close_range(3, err - 1, 0) == 0 && close_range(err + 1, ALL, 0) == 0 {
            return Ok(());
        }
        // Before Linux 5.9: one close per possible descriptor.
        for fd in 3..=max_fd {
            if fd != err_fd {
                libc::close(fd);
            }
        }
    }
    Ok(())
}

unsafe fn close_range(first: c_uint, last: c_uint, flags: c_uint) -> libc::c_long {
    if first > last {
        return 0;
    }
    // SAFETY: a raw close_range(2) (no glibc symbol needed).
    unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) }
}

/// Tell the parent which stage failed: one stage byte, then errno (native endian).
unsafe fn report(ctx: &ChildCtx, stage: Stage, errno: c_int) {
    let e = errno.to_ne_bytes();
    let message = [stage as u8, e[0], e[1], e[2], e[3]];
    // SAFETY: writing a local buffer to the pipe; a short write cannot happen
    // for 5 bytes on a pipe (atomic below PIPE_BUF).
    unsafe {
        while libc::write(ctx.err_fd, message.as_ptr().cast(), message.len()) < 0
            && *libc::__errno_location() == libc::EINTR
        {}
    }
}
