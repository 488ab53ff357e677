//! The byte pump: moves bytes from one file descriptor to another until EOF.
//!
//! This module is plain Rust (no Python) so that `cargo test` can exercise it
//! on real pipes and files; `lib.rs` wraps it for Python.
//!
//! # File descriptor ownership
//!
//! The pump owns **none** of the descriptors it is given (`reader`, `writer`,
//! `tap`, `stop`): it never closes them, whatever happens. The caller creates
//! them, keeps them open for the whole call and closes them afterwards.
//!
//! # Blocking, `O_NONBLOCK` and `stop`
//!
//! * `splice(2)`/`tee(2)` are always issued with `SPLICE_F_NONBLOCK`; when the
//!   kernel answers `EAGAIN`, or a transfer was shorter than `buffer_size`
//!   (the input is most likely empty), the pump sleeps in `poll(2)` until the
//!   reader is readable and the writer (or tap) is writable.
//! * Without a `stop` descriptor the file status flags of the caller's
//!   descriptors are left untouched; the read/write fallback then blocks in
//!   `read(2)`/`write(2)` as usual (or polls, if the caller's descriptors are
//!   already non-blocking).
//! * With a `stop` descriptor the pump sets `O_NONBLOCK` on `reader`, `writer`
//!   and `tap` for the duration of the call and restores their previous flags
//!   before returning, so that it can only ever sleep in `poll(2)`, which also
//!   watches `stop`. The flag lives on the *open file description*, so during
//!   the call any other holder of the same description (a `dup` or a child that
//!   inherited it) sees it too: pass descriptions private to the caller, as the
//!   pipe ends a parent creates for a hop are.
//!
//! `stop` counts as readable when `poll` reports `POLLIN`, `POLLHUP` or
//! `POLLERR` on it (so closing the write end of a stop pipe also stops the
//! pump). The pump never reads from it: the condition stays visible to
//! whoever else watches it. It is checked before the first transfer, whenever
//! the pump would wait, and every few transfers while data flows freely.
//!
//! # Signals
//!
//! `EINTR` is retried after calling the caller's hook (the Python binding
//! runs pending Python signal handlers there, as `os.read` does). `SIGPIPE`
//! is blocked in the calling thread for the duration and a `SIGPIPE` raised
//! by the pump's own writes is consumed, so a writer whose reader went away
//! shows up as `EPIPE` whatever the process's `SIGPIPE` disposition is.

use std::io;
use std::os::fd::RawFd;
use std::ptr;

/// Default maximum number of bytes per `splice`/`read` call.
pub const DEFAULT_BUFFER_SIZE: usize = 65536;

/// Check `stop` with a zero-timeout `poll` once every this many transfers
/// while data flows without the pump ever having to wait.
const STOP_CHECK_EVERY: u32 = 8;

/// How the bytes are moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `splice`/`tee` where the kernel accepts them, read/write otherwise.
    Auto,
    /// `splice`/`tee` only; a refusal (`EINVAL`, ...) is returned as an error.
    Splice,
    /// `read`/`write` through a user-space buffer only.
    Copy,
}

impl Mode {
    /// Parse `"auto"`, `"splice"` or `"copy"`.
    pub fn parse(name: &str) -> Option<Mode> {
        match name {
            "auto" => Some(Mode::Auto),
            "splice" => Some(Mode::Splice),
            "copy" => Some(Mode::Copy),
            _ => None,
        }
    }
}

/// Parameters of one pump call.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Maximum bytes per `splice`/`tee`/`read` call (and the size of the copy
    /// buffer, allocated only if the read/write path is used). Must be > 0.
    pub buffer_size: usize,
    /// Also duplicate every byte into this descriptor (a pipe write end).
    pub tap: Option<RawFd>,
    /// Return [`PumpError::Stopped`] as soon as this descriptor is readable.
    pub stop: Option<RawFd>,
    /// Transfer strategy.
    pub mode: Mode,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            buffer_size: DEFAULT_BUFFER_SIZE,
            tap: None,
            stop: None,
            mode: Mode::Auto,
        }
    }
}

/// Why a pump call did not run to EOF.
#[derive(Debug)]
pub enum PumpError<E> {
    /// `stop` became readable; `moved` bytes had reached the writer.
    Stopped { moved: u64 },
    /// A system call failed; `moved` bytes had reached the writer.
    Os { error: io::Error, moved: u64 },
    /// The `EINTR` hook returned an error.
    Hook(E),
}

/// Internal failure, before the byte count is attached.
enum Fail<E> {
    Stopped,
    Os(io::Error),
    Hook(E),
}

impl<E> From<io::Error> for Fail<E> {
    fn from(error: io::Error) -> Self {
        Fail::Os(error)
    }
}

/// Outcome of one step of the transfer loop.
enum Step {
    /// Progress (or a state change such as dropping the tap); go on.
    Again,
    /// The reader reached end-of-file.
    Eof,
    /// The writer's reading side is gone (`EPIPE`): the hop is over.
    WriterClosed,
    /// The kernel refused `splice`/`tee` for these descriptors.
    Refused(io::Error),
}

/// What woke a [`Io::wait`].
enum Ready {
    /// The descriptor waited for is ready (or has an error/hang-up pending,
    /// which the next system call will report).
    Fd,
    /// The writer is a pipe and its read end has been closed.
    WriterGone,
}

/// Move bytes from `reader` to `writer` until EOF on `reader`.
///
/// Returns the number of bytes delivered to `writer`. `EPIPE` on the writer
/// ends the transfer successfully with the count so far. Closes no
/// descriptor (see the module documentation for ownership, `O_NONBLOCK` and
/// `stop`). `on_eintr` runs each time a system call is interrupted by a
/// signal; an `Err` from it aborts the pump with [`PumpError::Hook`].
pub fn pump<E>(
    reader: RawFd,
    writer: RawFd,
    options: &Options,
    on_eintr: &mut dyn FnMut() -> Result<(), E>,
) -> Result<u64, PumpError<E>> {
    if options.buffer_size == 0 {
        return Err(PumpError::Os {
            error: io::Error::from_raw_os_error(libc::EINVAL),
            moved: 0,
        });
    }
    let _sigpipe = SigpipeGuard::new();
    let _flags = match options.stop {
        Some(_) => {
            let fds = [Some(reader), Some(writer), options.tap];
            match NonblockGuard::new(fds.into_iter().flatten()) {
                Ok(guard) => Some(guard),
                Err(error) => return Err(PumpError::Os { error, moved: 0 }),
            }
        }
        None => None,
    };
    let mut state = Pump {
        io: Io {
            reader,
            writer,
            writer_is_pipe: is_fifo(writer),
            stop: options.stop,
            on_eintr,
            moved: 0,
            since_stop_check: 0,
        },
        tap: options.tap,
        chunk: options.buffer_size,
        buf: Vec::new(),
    };
    match state.run(options.mode) {
        Ok(()) => Ok(state.io.moved),
        Err(Fail::Stopped) => Err(PumpError::Stopped {
            moved: state.io.moved,
        }),
        Err(Fail::Os(error)) => Err(PumpError::Os {
            error,
            moved: state.io.moved,
        }),
        Err(Fail::Hook(e)) => Err(PumpError::Hook(e)),
    }
}

/// Descriptors, the stop watch and the `EINTR` hook; the waiting primitives.
struct Io<'h, E> {
    reader: RawFd,
    writer: RawFd,
    writer_is_pipe: bool,
    stop: Option<RawFd>,
    on_eintr: &'h mut dyn FnMut() -> Result<(), E>,
    /// Bytes delivered to `writer` so far.
    moved: u64,
    since_stop_check: u32,
}

impl<E> Io<'_, E> {
    fn interrupted(&mut self) -> Result<(), Fail<E>> {
        (self.on_eintr)().map_err(Fail::Hook)
    }

    /// Zero-timeout look at `stop`, every [`STOP_CHECK_EVERY`] calls.
    fn maybe_check_stop(&mut self) -> Result<(), Fail<E>> {
        let Some(stop) = self.stop else {
            return Ok(());
        };
        if self.since_stop_check > 0 {
            self.since_stop_check -= 1;
            return Ok(());
        }
        self.since_stop_check = STOP_CHECK_EVERY - 1;
        let mut fds = [pollfd(stop, libc::POLLIN)];
        loop {
            match sys_poll(&mut fds, 0) {
                Ok(_) if fds[0].revents & libc::POLLNVAL != 0 => {
                    return Err(Fail::Os(io::Error::from_raw_os_error(libc::EBADF)));
                }
                Ok(_) if fds[0].revents != 0 => return Err(Fail::Stopped),
                Ok(_) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => self.interrupted()?,
                Err(e) => return Err(Fail::Os(e)),
            }
        }
    }

    /// Sleep until each `(fd, events)` in `wants` (one or two) has been
    /// ready (or has an error/hang-up pending, which the next system call
    /// will report), unless `stop` becomes readable or the writer pipe loses
    /// its reader first.
    fn wait(&mut self, wants: &[(RawFd, libc::c_short)]) -> Result<Ready, Fail<E>> {
        debug_assert!(!wants.is_empty() && wants.len() <= 2);
        let want = |i: usize| wants.get(i).copied().unwrap_or((-1, 0));
        // Watch the writer for POLLERR (no readers left) only when it is a
        // pipe: for a pipe write end that is exactly what POLLERR means.
        let watch_writer = if self.writer_is_pipe { self.writer } else { -1 };
        let mut fds = [
            pollfd(want(0).0, want(0).1),
            pollfd(want(1).0, want(1).1),
            pollfd(watch_writer, 0),
            pollfd(self.stop.unwrap_or(-1), libc::POLLIN),
        ];
        loop {
            match sys_poll(&mut fds, -1) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {
                    self.interrupted()?;
                    continue;
                }
                Err(e) => return Err(Fail::Os(e)),
            }
            if fds[3].revents & libc::POLLNVAL != 0 {
                return Err(Fail::Os(io::Error::from_raw_os_error(libc::EBADF)));
            }
            if fds[3].revents != 0 {
                return Err(Fail::Stopped);
            }
            if fds[2].revents & libc::POLLERR != 0 {
                return Ok(Ready::WriterGone);
            }
            for slot in &mut fds[..2] {
                if slot.revents != 0 {
                    slot.fd = -1; // satisfied; poll ignores negative fds
                }
            }
            if fds[0].fd < 0 && fds[1].fd < 0 {
                return Ok(Ready::Fd);
            }
        }
    }

    /// Read at most `buf.len()` bytes from the reader (0 means EOF).
    fn read_some(&mut self, buf: &mut [u8]) -> Result<Option<usize>, Fail<E>> {
        loop {
            match sys_read(self.reader, buf) {
                Ok(n) => return Ok(Some(n)),
                Err(e) => match e.raw_os_error() {
                    Some(libc::EINTR) => self.interrupted()?,
                    Some(libc::EAGAIN) => {
                        if let Ready::WriterGone = self.wait(&[(self.reader, libc::POLLIN)])? {
                            return Ok(None);
                        }
                    }
                    _ => return Err(Fail::Os(e)),
                },
            }
        }
    }

    /// Write all of `data` to `fd` (the writer or the tap). Bytes written to
    /// the writer are added to `moved`.
    fn write_all(&mut self, fd: RawFd, mut data: &[u8]) -> Result<Written, Fail<E>> {
        while !data.is_empty() {
            match sys_write(fd, data) {
                Ok(n) => {
                    if fd == self.writer {
                        self.moved += n as u64;
                    }
                    data = &data[n..];
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::EINTR) => self.interrupted()?,
                    Some(libc::EAGAIN) => {
                        if let Ready::WriterGone = self.wait(&[(fd, libc::POLLOUT)])? {
                            return Ok(Written::WriterGone);
                        }
                    }
                    Some(libc::EPIPE) if fd == self.writer => return Ok(Written::WriterGone),
                    Some(libc::EPIPE) => return Ok(Written::TargetGone),
                    _ => return Err(Fail::Os(e)),
                },
            }
        }
        Ok(Written::All)
    }
}

/// Outcome of [`Io::write_all`].
enum Written {
    All,
    /// The writer's reading side is gone: the hop is over.
    WriterGone,
    /// The target (the tap) lost its reader; the writer may be fine.
    TargetGone,
}

struct Pump<'h, E> {
    io: Io<'h, E>,
    /// Tap descriptor, dropped (set to `None`) once its reader is gone.
    tap: Option<RawFd>,
    chunk: usize,
    /// Copy buffer, allocated on first use of the read/write path.
    buf: Vec<u8>,
}

impl<E> Pump<'_, E> {
    fn run(&mut self, mode: Mode) -> Result<(), Fail<E>> {
        let mut use_splice = mode != Mode::Copy;
        loop {
            self.io.maybe_check_stop()?;
            let step = if use_splice {
                self.splice_step()?
            } else {
                self.copy_step()?
            };
            match step {
                Step::Again => {}
                Step::Eof | Step::WriterClosed => return Ok(()),
                Step::Refused(error) => {
                    if mode == Mode::Splice {
                        return Err(Fail::Os(error));
                    }
                    use_splice = false;
                }
            }
        }
    }

    /// One `splice` (or `tee` + `splice`s of the same bytes) from reader to writer.
    fn splice_step(&mut self) -> Result<Step, Fail<E>> {
        let (reader, writer) = (self.io.reader, self.io.writer);
        let Some(tap) = self.tap else {
            return match sys_splice(reader, writer, self.chunk) {
                Ok(0) => Ok(Step::Eof),
                Ok(n) => {
                    self.io.moved += n as u64;
                    self.after_short(n, writer)
                }
                Err(e) => self.splice_error(e, None),
            };
        };
        // Duplicate into the tap first; the duplicated bytes stay in the
        // reader pipe and are then spliced to the writer, so both see the
        // same bytes in the same order.
        let teed = match sys_tee(reader, tap, self.chunk) {
            Ok(0) => return Ok(Step::Eof),
            Ok(n) => n,
            Err(e) => match e.raw_os_error() {
                Some(libc::EPIPE) => {
                    self.tap = None;
                    return Ok(Step::Again);
                }
                _ => return self.splice_error(e, Some(tap)),
            },
        };
        let mut left = teed;
        while left > 0 {
            match sys_splice(reader, writer, left) {
                // Cannot happen: the bytes just teed are in the reader pipe.
                Ok(0) => return Ok(Step::Eof),
                Ok(n) => {
                    self.io.moved += n as u64;
                    left -= n;
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::EINTR) => self.io.interrupted()?,
                    Some(libc::EAGAIN) => {
                        if let Ready::WriterGone = self.io.wait(&[(writer, libc::POLLOUT)])? {
                            return Ok(Step::WriterClosed);
                        }
                    }
                    Some(libc::EPIPE) => return Ok(Step::WriterClosed),
                    _ if is_refusal(&e) => {
                        // The writer does not take splice: deliver the bytes
                        // the tap already has by read/write, then switch.
                        if !self.copy_exact_to_writer(left)? {
                            return Ok(Step::WriterClosed);
                        }
                        return Ok(Step::Refused(e));
                    }
                    _ => return Err(Fail::Os(e)),
                },
            }
        }
        self.after_short(teed, tap)
    }

    /// After a transfer of `n` bytes into `out`: a short one (less than a
    /// chunk) most likely emptied the input or filled `out`, so wait until
    /// both are ready again instead of issuing a transfer bound to fail with
    /// `EAGAIN`. This saves a system call per transfer while data trickles
    /// in, which is the steady state when the pump is faster than its source.
    fn after_short(&mut self, n: usize, out: RawFd) -> Result<Step, Fail<E>> {
        if n >= self.chunk {
            return Ok(Step::Again);
        }
        match self
            .io
            .wait(&[(self.io.reader, libc::POLLIN), (out, libc::POLLOUT)])?
        {
            Ready::WriterGone => Ok(Step::WriterClosed),
            Ready::Fd => Ok(Step::Again),
        }
    }

    /// Handle a failed `splice`/`tee` that has moved nothing.
    fn splice_error(&mut self, e: io::Error, tap: Option<RawFd>) -> Result<Step, Fail<E>> {
        match e.raw_os_error() {
            Some(libc::EINTR) => {
                self.io.interrupted()?;
                Ok(Step::Again)
            }
            Some(libc::EAGAIN) => {
                // No input yet, or no room in the output (the tap when
                // teeing). Wait until both have been ready: as the only
                // reader of the input and the only writer of the output we
                // cannot see either condition undone, so the retry progresses.
                let (reader, writer) = (self.io.reader, self.io.writer);
                let out = tap.unwrap_or(writer);
                match self
                    .io
                    .wait(&[(reader, libc::POLLIN), (out, libc::POLLOUT)])?
                {
                    Ready::WriterGone => Ok(Step::WriterClosed),
                    Ready::Fd => Ok(Step::Again),
                }
            }
            Some(libc::EPIPE) => Ok(Step::WriterClosed),
            _ if is_refusal(&e) => Ok(Step::Refused(e)),
            _ => Err(Fail::Os(e)),
        }
    }

    fn ensure_buf(&mut self) {
        if self.buf.is_empty() {
            self.buf = vec![0; self.chunk];
        }
    }

    /// One read from the reader, written to the tap (if any) and the writer.
    fn copy_step(&mut self) -> Result<Step, Fail<E>> {
        self.ensure_buf();
        let n = match self.io.read_some(&mut self.buf)? {
            None => return Ok(Step::WriterClosed),
            Some(0) => return Ok(Step::Eof),
            Some(n) => n,
        };
        if let Some(tap) = self.tap {
            match self.io.write_all(tap, &self.buf[..n])? {
                Written::All => {}
                Written::TargetGone => self.tap = None,
                Written::WriterGone => return Ok(Step::WriterClosed),
            }
        }
        let writer = self.io.writer;
        match self.io.write_all(writer, &self.buf[..n])? {
            Written::All => Ok(Step::Again),
            _ => Ok(Step::WriterClosed),
        }
    }

    /// Read exactly `len` bytes (already duplicated to the tap) and write
    /// them to the writer only. Returns `false` if the writer went away.
    fn copy_exact_to_writer(&mut self, mut len: usize) -> Result<bool, Fail<E>> {
        self.ensure_buf();
        while len > 0 {
            let want = len.min(self.buf.len());
            let n = match self.io.read_some(&mut self.buf[..want])? {
                None => return Ok(false),
                Some(0) => return Ok(true),
                Some(n) => n,
            };
            let writer = self.io.writer;
            if !matches!(self.io.write_all(writer, &self.buf[..n])?, Written::All) {
                return Ok(false);
            }
            len -= n;
        }
        Ok(true)
    }
}

/// Errors with which the kernel declines `splice`/`tee` for a pair of
/// descriptors (neither is a pipe, a file system without splice support,
/// an `O_APPEND` target, ...): the read/write path can still move the bytes.
fn is_refusal(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
    )
}

fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

fn cvt(ret: isize) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

fn sys_splice(fd_in: RawFd, fd_out: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: null offsets make the kernel use (and advance) the file
    // positions; no memory is passed.
    cvt(unsafe {
        libc::splice(
            fd_in,
            ptr::null_mut(),
            fd_out,
            ptr::null_mut(),
            len,
            libc::SPLICE_F_NONBLOCK,
        )
    })
}

fn sys_tee(fd_in: RawFd, fd_out: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: no memory is passed.
    cvt(unsafe { libc::tee(fd_in, fd_out, len, libc::SPLICE_F_NONBLOCK) })
}

fn sys_read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` writable bytes.
    cvt(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
}

fn sys_write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` readable bytes.
    cvt(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })
}

fn sys_poll(fds: &mut [libc::pollfd], timeout_ms: libc::c_int) -> io::Result<usize> {
    // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs.
    let ret = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    cvt(ret as isize)
}

fn is_fifo(fd: RawFd) -> bool {
    // SAFETY: `st` is a plain-old-data out parameter.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFIFO
    }
}

/// Sets `O_NONBLOCK` on some descriptors and restores their flags on drop.
struct NonblockGuard {
    saved: Vec<(RawFd, libc::c_int)>,
}

impl NonblockGuard {
    fn new(fds: impl Iterator<Item = RawFd>) -> io::Result<Self> {
        let mut guard = NonblockGuard { saved: Vec::new() };
        for fd in fds {
            if guard.saved.iter().any(|&(seen, _)| seen == fd) {
                continue;
            }
            // SAFETY: fcntl on an integer descriptor; errors are reported.
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
            if flags < 0 {
                return Err(io::Error::last_os_error());
            }
            if flags & libc::O_NONBLOCK == 0 {
                // SAFETY: as above.
                if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
                    return Err(io::Error::last_os_error());
                }
                guard.saved.push((fd, flags));
            }
        }
        Ok(guard)
    }
}

impl Drop for NonblockGuard {
    fn drop(&mut self) {
        for &(fd, flags) in &self.saved {
            // SAFETY: restores the flags read in `new`; failure (e.g. the
            // caller closed the descriptor meanwhile) is deliberately ignored.
            unsafe { libc::fcntl(fd, libc::F_SETFL, flags) };
        }
    }
}

/// Blocks `SIGPIPE` in the current thread; on drop consumes a `SIGPIPE` that
/// became pending meanwhile (raised by our own writes) and restores the mask.
struct SigpipeGuard {
    old_mask: libc::sigset_t,
    was_pending: bool,
}

fn sigpipe_set() -> libc::sigset_t {
    // SAFETY: sigset_t is initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        set
    }
}

fn sigpipe_pending() -> bool {
    // SAFETY: `set` is an out parameter filled by sigpending.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut set) == 0 && libc::sigismember(&set, libc::SIGPIPE) == 1
    }
}

impl SigpipeGuard {
    fn new() -> Self {
        let set = sigpipe_set();
        // SAFETY: valid sigset pointers; pthread_sigmask only fails on bad `how`.
        let old_mask = unsafe {
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            old
        };
        SigpipeGuard {
            old_mask,
            was_pending: sigpipe_pending(),
        }
    }
}

impl Drop for SigpipeGuard {
    fn drop(&mut self) {
        let set = sigpipe_set();
        if !self.was_pending && sigpipe_pending() {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: valid pointers; a zero timeout makes this non-blocking.
            unsafe { libc::sigtimedwait(&set, ptr::null_mut(), &zero) };
        }
        // SAFETY: restores the mask saved in `new`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, ptr::null_mut()) };
    }
}

#[cfg(test)]
mod tests;
