//! Creating the child: `clone3` (optionally straight into a cgroup), with a
//! `vfork`-style shared-memory child where the architecture has the assembly
//! for it, a copy-on-write child otherwise.
//!
//! Why assembly: a child that shares the parent's memory must not return
//! through the parent's stack frames (it would overwrite the return addresses
//! the suspended parent still needs). So it gets a stack of its own, and
//! `clone3` must be issued from code that, in the child, jumps straight to
//! [`child_main`] on that stack. glibc's `clone()` wrapper does the same, but
//! cannot pass `CLONE_INTO_CGROUP` (that needs `clone3`).

use super::child::{ChildCtx, child_main};
use libc::{c_int, c_long, pid_t};
use std::io;
use std::os::fd::RawFd;

const CLONE_VM: u64 = 0x100;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The kernel's `struct clone_args` (version 2, with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// A freshly created child: its pid and pidfd (`-1` where the kernel has none).
pub struct Cloned {
    pub pid: pid_t,
    pub pidfd: RawFd,
}

/// Whether this build can run the child in the parent's memory.
pub const SHARED_MEMORY_AVAILABLE: bool =
    cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// Create the child, which runs `child_main(ctx)`; returns in the parent only.
///
/// * `cgroup`: a cgroup v2 directory descriptor to start the child in.
/// * `shared_memory`: `CLONE_VM | CLONE_VFORK` (the parent sleeps until the
///   child has exec'd or exited; no page tables are copied). Ignored where
///   [`SHARED_MEMORY_AVAILABLE`] is false.
///
/// Without `clone3` (`ENOSYS`: Linux < 5.3 or a seccomp filter) and without
/// a cgroup, falls back to `fork()` plus `pidfd_open`.
///
/// # Safety
/// `ctx` must be fully prepared and outlive the child's exec; all signals
/// must be blocked in the calling thread.
pub unsafe fn clone_child(
    ctx: &ChildCtx,
    cgroup: Option<RawFd>,
    shared_memory: bool,
) -> io::Result<Cloned> {
    let mut pidfd: c_int = -1;
    let mut args = CloneArgs {
        flags: CLONE_PIDFD,
        pidfd: std::ptr::addr_of_mut!(pidfd) as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    let ret = if shared_memory && SHARED_MEMORY_AVAILABLE {
        let stack = Stack::new()?;
        args.flags |= CLONE_VM | CLONE_VFORK;
        args.stack = stack.base as u64;
        args.stack_size = stack.size as u64;
        // SAFETY: `args` and `ctx` are valid; the child never returns here.
        unsafe { clone3_shared(&mut args, ctx) }
    } else {
        // SAFETY: a copy-on-write child continues here with a copy of memory.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &mut args as *mut CloneArgs,
                std::mem::size_of::<CloneArgs>(),
            )
        };
        if ret == 0 {
            // SAFETY: in the child, on prepared data.
            unsafe { child_main(ctx) }
        }
        if ret < 0 { -(errno() as c_long) } else { ret }
    };
    if ret > 0 {
        return Ok(Cloned {
            pid: ret as pid_t,
            pidfd,
        });
    }
    let errno = -ret as c_int;
    if errno == libc::ENOSYS && cgroup.is_none() {
        // SAFETY: same contract as ours.
        return unsafe { fork_child(ctx) };
    }
    Err(io::Error::from_raw_os_error(errno))
}

/// `fork()` then `pidfd_open`, for kernels (or sandboxes) without `clone3`.
///
/// # Safety
/// As [`clone_child`].
pub unsafe fn fork_child(ctx: &ChildCtx) -> io::Result<Cloned> {
    // SAFETY: the child only runs async-signal-safe code on prepared data.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: in the child.
        unsafe { child_main(ctx) }
    }
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pidfd_open(2) of our own child; -1 where the kernel lacks it.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
    Ok(Cloned { pid, pidfd })
}

fn errno() -> c_int {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// The child's own stack: anonymous memory with a guard page below it.
struct Stack {
    map: *mut libc::c_void,
    map_size: usize,
    base: *mut u8,
    size: usize,
}

impl Stack {
    const SIZE: usize = 64 * 1024;
    const GUARD: usize = 4096;

    fn new() -> io::Result<Stack> {
        let map_size = Self::SIZE + Self::GUARD;
        // SAFETY: a private anonymous mapping owned by the returned value.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Stack {
            map,
            map_size,
            // SAFETY: within the mapping.
            base: unsafe { map.cast::<u8>().add(Self::GUARD) },
            size: Self::SIZE,
        };
        // SAFETY: the lowest page of our own mapping becomes the guard.
        if unsafe { libc::mprotect(map, Self::GUARD, libc::PROT_NONE) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: our own mapping; the child has exec'd or exited by now
        // (CLONE_VFORK), so nothing runs on it any more.
        unsafe { libc::munmap(self.map, self.map_size) };
    }
}

/// `clone3` whose child starts `child_main(ctx)` on the stack in `args`.
/// Returns the child's pid or `-errno`, in the parent only.
#[cfg(target_arch = "x86_64")]
unsafe fn clone3_shared(args: &mut CloneArgs, ctx: &ChildCtx) -> c_long {
    let ret: c_long;
    // SAFETY: the kernel gives the child the new stack; the child clears the
    // frame pointer and calls `child_main`, which never returns.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call {child}",
            "ud2",
            "2:",
            child = sym child_main,
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") args as *mut CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") ctx as *const ChildCtx,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// `clone3` whose child starts `child_main(ctx)` on the stack in `args`.
/// Returns the child's pid or `-errno`, in the parent only.
#[cfg(target_arch = "aarch64")]
unsafe fn clone3_shared(args: &mut CloneArgs, ctx: &ChildCtx) -> c_long {
    let ret: c_long;
    // SAFETY: as for x86_64.
    unsafe {
        std::arch::asm!(
            "svc #0",
            "cbnz x0, 2f",
            "mov x29, xzr",
            "mov x30, xzr",
            "mov x0, x20",
            "bl {child}",
            "brk #1",
            "2:",
            child = sym child_main,
            inlateout("x0") args as *mut CloneArgs => ret,
            in("x1") std::mem::size_of::<CloneArgs>(),
            in("x8") libc::SYS_clone3,
            in("x20") ctx as *const ChildCtx,
            options(nostack),
        );
    }
    ret
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn clone3_shared(_args: &mut CloneArgs, _ctx: &ChildCtx) -> c_long {
    -(libc::ENOSYS as c_long)
}
