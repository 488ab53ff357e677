//! Tests of the pump on real pipes and memfd-backed regular files.

use super::*;
use std::convert::Infallible;
use std::os::unix::thread::JoinHandleExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

type Outcome = Result<u64, PumpError<Infallible>>;

const DEADLINE: Duration = Duration::from_secs(20);

/// An owned descriptor, closed on drop.
struct Fd(RawFd);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.0) };
    }
}

fn check(ret: libc::c_int) -> libc::c_int {
    assert!(
        ret >= 0,
        "system call failed: {}",
        io::Error::last_os_error()
    );
    ret
}

/// (read end, write end)
fn pipe() -> (Fd, Fd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid two-element array.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) });
    (Fd(fds[0]), Fd(fds[1]))
}

fn set_pipe_size(fd: &Fd, size: libc::c_int) {
    // SAFETY: fcntl on an owned descriptor.
    check(unsafe { libc::fcntl(fd.0, libc::F_SETPIPE_SZ, size) });
}

/// An anonymous regular file (tmpfs) holding `data`, positioned at 0.
fn memfd(data: &[u8]) -> Fd {
    // SAFETY: the name is a NUL-terminated literal.
    let fd = Fd(check(unsafe {
        libc::memfd_create(c"cuprum-test".as_ptr(), libc::MFD_CLOEXEC)
    }));
    write_all(&fd, data).unwrap();
    rewind(&fd);
    fd
}

fn rewind(fd: &Fd) {
    // SAFETY: lseek on an owned descriptor.
    assert_eq!(unsafe { libc::lseek(fd.0, 0, libc::SEEK_SET) }, 0);
}

fn flags(fd: &Fd) -> libc::c_int {
    // SAFETY: fcntl on an owned descriptor.
    check(unsafe { libc::fcntl(fd.0, libc::F_GETFL) })
}

fn is_pipe_or_file(fd: RawFd) -> bool {
    // SAFETY: fcntl probe; -1 means not open.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// Blocking write of everything (retrying EINTR); Err on EPIPE etc.
fn write_all(fd: &Fd, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match sys_write(fd.0, data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Blocking read until EOF in reads of at most `step` bytes.
fn read_to_end(fd: &Fd, step: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; step];
    loop {
        match sys_read(fd.0, &mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) => panic!("read failed: {e}"),
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

fn producer(write_end: Fd, data: Arc<Vec<u8>>) -> thread::JoinHandle<io::Result<()>> {
    thread::spawn(move || write_all(&write_end, &data))
}

fn consumer(read_end: Fd, step: usize) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || read_to_end(&read_end, step))
}

fn no_hook() -> impl FnMut() -> Result<(), Infallible> {
    || Ok(())
}

fn run(reader: RawFd, writer: RawFd, options: Options) -> Outcome {
    pump(reader, writer, &options, &mut no_hook())
}

/// Run the pump on its own thread; the receiver yields its outcome.
fn spawn_pump(
    reader: RawFd,
    writer: RawFd,
    options: Options,
) -> (mpsc::Receiver<Outcome>, thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        tx.send(run(reader, writer, options)).unwrap();
    });
    (rx, handle)
}

fn opts(mode: Mode) -> Options {
    Options {
        mode,
        ..Options::default()
    }
}

const MODES: [Mode; 3] = [Mode::Auto, Mode::Splice, Mode::Copy];

/// Pump `data` pipe -> pipe with producer and consumer threads.
fn transfer(data: &Arc<Vec<u8>>, options: Options, writer_pipe_size: Option<i32>) -> Vec<u8> {
    let (in_r, in_w) = pipe();
    let (out_r, out_w) = pipe();
    if let Some(size) = writer_pipe_size {
        set_pipe_size(&out_w, size);
    }
    let prod = producer(in_w, Arc::clone(data));
    let cons = consumer(out_r, 1000);
    let moved = run(in_r.0, out_w.0, options).unwrap();
    drop(out_w);
    prod.join().unwrap().unwrap();
    assert_eq!(moved, data.len() as u64);
    cons.join().unwrap()
}

#[test]
fn eof_on_empty_input_returns_zero() {
    for mode in MODES {
        let (in_r, in_w) = pipe();
        let (out_r, out_w) = pipe();
        drop(in_w);
        assert_eq!(run(in_r.0, out_w.0, opts(mode)).unwrap(), 0, "{mode:?}");
        drop(out_w);
        assert!(read_to_end(&out_r, 16).is_empty());
    }
}

#[test]
fn pipe_to_pipe_moves_every_byte_in_order() {
    let data = Arc::new(pattern(4 << 20, 1));
    for mode in MODES {
        for buffer_size in [1, 4096, 65536, 1 << 20] {
            let small = buffer_size == 1;
            let data = if small {
                Arc::new(data[..20_000].to_vec())
            } else {
                Arc::clone(&data)
            };
            let options = Options {
                buffer_size,
                mode,
                ..Options::default()
            };
            assert!(
                transfer(&data, options, None) == *data,
                "{mode:?} {buffer_size}"
            );
        }
    }
}

#[test]
fn short_writes_into_a_one_page_pipe() {
    // A 4 KiB writer pipe and a consumer reading 1000 bytes at a time: with
    // stop set the descriptors are non-blocking, so every big write is short.
    let data = Arc::new(pattern(8 << 20, 2));
    let (_stop_r, _stop_w) = pipe();
    for mode in MODES {
        for stop in [None, Some(_stop_r.0)] {
            let options = Options {
                stop,
                mode,
                ..Options::default()
            };
            assert!(
                transfer(&data, options, Some(4096)) == *data,
                "{mode:?} stop={stop:?}"
            );
        }
    }
}

extern "C" fn noop_handler(_: libc::c_int) {}

/// Install a SIGUSR1 handler without SA_RESTART, so blocked calls fail with EINTR.
fn install_sigusr1_noop() {
    // SAFETY: installing a handler that does nothing is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = noop_handler as *const () as libc::sighandler_t;
        action.sa_flags = 0;
        libc::sigemptyset(&mut action.sa_mask);
        check(libc::sigaction(libc::SIGUSR1, &action, ptr::null_mut()));
    }
}

/// Signal the pumping thread until its EINTR hook has run `want` times.
fn interrupt_until(handle: &thread::JoinHandle<()>, hits: &AtomicUsize, want: usize) {
    let start = Instant::now();
    while hits.load(Ordering::SeqCst) < want {
        assert!(start.elapsed() < DEADLINE, "EINTR hook never ran");
        // SAFETY: the thread is alive (it is blocked in the pump).
        unsafe { libc::pthread_kill(handle.as_pthread_t(), libc::SIGUSR1) };
        thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn eintr_while_blocked_is_retried() {
    install_sigusr1_noop();
    let data = pattern(300_000, 3);
    // Copy without stop blocks in read(2); auto blocks in poll(2).
    for (mode, stop_pipe) in [(Mode::Copy, false), (Mode::Auto, false), (Mode::Copy, true)] {
        let (in_r, in_w) = pipe();
        let (out_r, out_w) = pipe();
        let (stop_r, _stop_w) = pipe();
        let hits = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        let counter = Arc::clone(&hits);
        let (reader, writer) = (in_r.0, out_w.0);
        let options = Options {
            mode,
            stop: stop_pipe.then_some(stop_r.0),
            ..Options::default()
        };
        let handle = thread::spawn(move || {
            let mut hook = || -> Result<(), Infallible> {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(())
            };
            tx.send(pump(reader, writer, &options, &mut hook)).unwrap();
        });
        // Blocked waiting for input.
        interrupt_until(&handle, &hits, 2);
        let cons = consumer(out_r, 4096);
        write_all(&in_w, &data).unwrap();
        drop(in_w);
        let moved = rx.recv_timeout(DEADLINE).unwrap().unwrap();
        handle.join().unwrap();
        drop(out_w);
        assert_eq!(moved, data.len() as u64);
        assert!(cons.join().unwrap() == data, "{mode:?}");
    }
}

#[test]
fn eintr_while_waiting_for_room_is_retried() {
    install_sigusr1_noop();
    let data = Arc::new(pattern(1 << 20, 4));
    for mode in [Mode::Auto, Mode::Copy] {
        let (in_r, in_w) = pipe();
        let (out_r, out_w) = pipe();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let (reader, writer) = (in_r.0, out_w.0);
        let (tx, rx) = mpsc::channel();
        let handle = thread::spawn(move || {
            let mut hook = || -> Result<(), Infallible> {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(())
            };
            tx.send(pump(reader, writer, &opts(mode), &mut hook))
                .unwrap();
        });
        let prod = producer(in_w, Arc::clone(&data));
        // Nobody reads the output yet: the pump fills it and blocks.
        interrupt_until(&handle, &hits, 2);
        let cons = consumer(out_r, 4096);
        let moved = rx.recv_timeout(DEADLINE).unwrap().unwrap();
        handle.join().unwrap();
        prod.join().unwrap().unwrap();
        drop(out_w);
        assert_eq!(moved, data.len() as u64);
        assert!(cons.join().unwrap() == *data, "{mode:?}");
    }
}

#[test]
fn eintr_hook_error_aborts() {
    install_sigusr1_noop();
    let (in_r, _in_w) = pipe();
    let (_out_r, out_w) = pipe();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let (reader, writer) = (in_r.0, out_w.0);
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let mut hook = || {
            counter.fetch_add(1, Ordering::SeqCst);
            Err("handler raised")
        };
        tx.send(pump(reader, writer, &Options::default(), &mut hook))
            .unwrap();
    });
    interrupt_until(&handle, &hits, 1);
    match rx.recv_timeout(DEADLINE).unwrap() {
        Err(PumpError::Hook("handler raised")) => {}
        other => panic!("unexpected {other:?}"),
    }
    handle.join().unwrap();
}

#[test]
fn epipe_when_the_writer_reader_is_already_closed() {
    for mode in MODES {
        let (in_r, in_w) = pipe();
        let (out_r, out_w) = pipe();
        write_all(&in_w, b"some bytes").unwrap();
        drop(out_r);
        assert_eq!(run(in_r.0, out_w.0, opts(mode)).unwrap(), 0, "{mode:?}");
        assert!(!sigpipe_pending(), "a SIGPIPE was left pending");
    }
}

#[test]
fn epipe_when_the_consumer_exits_early() {
    let data = Arc::new(pattern(16 << 20, 5));
    for mode in MODES {
        let (in_r, in_w) = pipe();
        let (out_r, out_w) = pipe();
        let prod = producer(in_w, Arc::clone(&data));
        // Like `head -c 10`: read 10 bytes, then close.
        let cons = thread::spawn(move || {
            let mut buf = [0u8; 10];
            let mut got = 0;
            while got < 10 {
                got += sys_read(out_r.0, &mut buf[got..]).unwrap();
            }
            drop(out_r);
            buf
        });
        let moved = run(in_r.0, out_w.0, opts(mode)).unwrap();
        assert!(
            (10..data.len() as u64).contains(&moved),
            "{mode:?}: {moved}"
        );
        assert_eq!(cons.join().unwrap(), data[..10]);
        drop(in_r); // the producer now gets EPIPE
        assert!(prod.join().unwrap().is_err());
        assert!(!sigpipe_pending());
    }
}

#[test]
fn writer_closing_is_noticed_while_waiting_for_input() {
    // Input stays open and empty; the next stage exits: the hop is over.
    let (_stop_r, _stop_w) = pipe();
    for (mode, stop) in [(Mode::Auto, None), (Mode::Copy, Some(_stop_r.0))] {
        let (in_r, _in_w) = pipe();
        let (out_r, out_w) = pipe();
        let options = Options {
            mode,
            stop,
            ..Options::default()
        };
        let (rx, handle) = spawn_pump(in_r.0, out_w.0, options);
        drop(out_r);
        assert_eq!(rx.recv_timeout(DEADLINE).unwrap().unwrap(), 0, "{mode:?}");
        handle.join().unwrap();
    }
}

#[test]
fn regular_file_reader() {
    let data = pattern(3 << 20, 6);
    for mode in MODES {
        let file = memfd(&data);
        let (out_r, out_w) = pipe();
        let cons = consumer(out_r, 65536);
        assert_eq!(run(file.0, out_w.0, opts(mode)).unwrap(), data.len() as u64);
        drop(out_w);
        assert!(cons.join().unwrap() == data, "{mode:?}");
    }
}

#[test]
fn regular_file_writer() {
    let data = Arc::new(pattern(3 << 20, 7));
    for mode in MODES {
        let (in_r, in_w) = pipe();
        let file = memfd(b"");
        let prod = producer(in_w, Arc::clone(&data));
        assert_eq!(run(in_r.0, file.0, opts(mode)).unwrap(), data.len() as u64);
        prod.join().unwrap().unwrap();
        rewind(&file);
        assert!(read_to_end(&file, 65536) == *data, "{mode:?}");
    }
}

#[test]
fn file_to_file_falls_back_to_copy_unless_splice_is_forced() {
    let data = pattern(1 << 20, 8);
    for mode in [Mode::Auto, Mode::Copy] {
        let src = memfd(&data);
        let dst = memfd(b"");
        assert_eq!(run(src.0, dst.0, opts(mode)).unwrap(), data.len() as u64);
        rewind(&dst);
        assert!(read_to_end(&dst, 65536) == data, "{mode:?}");
    }
    let src = memfd(&data);
    let dst = memfd(b"");
    match run(src.0, dst.0, opts(Mode::Splice)) {
        Err(PumpError::Os { error, moved: 0 }) => {
            assert_eq!(error.raw_os_error(), Some(libc::EINVAL));
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// Pump `data` with a tap; return (writer bytes, tap bytes).
fn tapped(reader: RawFd, prod: Option<Fd>, data: &Arc<Vec<u8>>, mode: Mode) -> (Vec<u8>, Vec<u8>) {
    let (out_r, out_w) = pipe();
    let (tap_r, tap_w) = pipe();
    let prod = prod.map(|w| producer(w, Arc::clone(data)));
    let cons = consumer(out_r, 1000);
    let tap_cons = consumer(tap_r, 777);
    let options = Options {
        tap: Some(tap_w.0),
        mode,
        ..Options::default()
    };
    assert_eq!(run(reader, out_w.0, options).unwrap(), data.len() as u64);
    if let Some(prod) = prod {
        prod.join().unwrap().unwrap();
    }
    drop(out_w);
    drop(tap_w);
    (cons.join().unwrap(), tap_cons.join().unwrap())
}

#[test]
fn tee_to_a_tap() {
    let data = Arc::new(pattern(5 << 20, 9));
    for mode in MODES {
        let (in_r, in_w) = pipe();
        let (out, tap) = tapped(in_r.0, Some(in_w), &data, mode);
        assert!(out == *data, "{mode:?} writer");
        assert!(tap == *data, "{mode:?} tap");
    }
}

#[test]
fn tap_on_a_file_reader_falls_back_to_copy() {
    let data = Arc::new(pattern(2 << 20, 10));
    let file = memfd(&data);
    let (out, tap) = tapped(file.0, None, &data, Mode::Auto);
    assert!(out == *data);
    assert!(tap == *data);
}

#[test]
fn hop_continues_when_the_tap_reader_goes_away() {
    let data = Arc::new(pattern(4 << 20, 11));
    for mode in MODES {
        let (in_r, in_w) = pipe();
        let (out_r, out_w) = pipe();
        let (tap_r, tap_w) = pipe();
        // The tap reader takes a little, then leaves.
        let tap_cons = thread::spawn(move || {
            let mut buf = [0u8; 100];
            sys_read(tap_r.0, &mut buf).unwrap();
            drop(tap_r);
        });
        let prod = producer(in_w, Arc::clone(&data));
        let cons = consumer(out_r, 4096);
        let options = Options {
            tap: Some(tap_w.0),
            mode,
            ..Options::default()
        };
        assert_eq!(run(in_r.0, out_w.0, options).unwrap(), data.len() as u64);
        prod.join().unwrap().unwrap();
        tap_cons.join().unwrap();
        drop(out_w);
        assert!(cons.join().unwrap() == *data, "{mode:?}");
        assert!(!sigpipe_pending());
    }
}

fn expect_stopped(rx: &mpsc::Receiver<Outcome>, started: Instant) -> u64 {
    match rx.recv_timeout(DEADLINE) {
        Ok(Err(PumpError::Stopped { moved })) => {
            assert!(started.elapsed() < Duration::from_secs(5), "slow stop");
            moved
        }
        other => panic!("expected Stopped, got {other:?}"),
    }
}

#[test]
fn stop_wakes_a_pump_waiting_for_input() {
    for mode in MODES {
        let (in_r, _in_w) = pipe();
        let (_out_r, out_w) = pipe();
        let (stop_r, stop_w) = pipe();
        let before = (flags(&in_r), flags(&out_w));
        let options = Options {
            stop: Some(stop_r.0),
            mode,
            ..Options::default()
        };
        let (rx, handle) = spawn_pump(in_r.0, out_w.0, options);
        let started = Instant::now();
        write_all(&stop_w, b"x").unwrap();
        assert_eq!(expect_stopped(&rx, started), 0);
        handle.join().unwrap();
        // O_NONBLOCK was restored and nothing was closed.
        assert_eq!((flags(&in_r), flags(&out_w)), before);
        assert!(is_pipe_or_file(in_r.0) && is_pipe_or_file(out_w.0));
        assert!(is_pipe_or_file(stop_r.0));
    }
}

#[test]
fn stop_wakes_a_pump_waiting_for_room() {
    let data = Arc::new(pattern(1 << 20, 12));
    for mode in MODES {
        let (in_r, in_w) = pipe();
        let (_out_r, out_w) = pipe();
        let (tap_r, tap_w) = pipe();
        let (stop_r, stop_w) = pipe();
        let prod = producer(in_w, Arc::clone(&data));
        let options = Options {
            stop: Some(stop_r.0),
            tap: Some(tap_w.0),
            mode,
            ..Options::default()
        };
        // Nobody reads the output nor the tap: the pump ends up waiting.
        let (rx, handle) = spawn_pump(in_r.0, out_w.0, options);
        let started = Instant::now();
        drop(stop_w); // a hang-up counts as a stop too
        let moved = expect_stopped(&rx, started);
        assert!(moved < data.len() as u64);
        handle.join().unwrap();
        drop(in_r);
        assert!(prod.join().unwrap().is_err());
        drop(tap_r);
    }
}

fn open(path: &std::ffi::CStr, flags: libc::c_int) -> Fd {
    // SAFETY: `path` is NUL-terminated.
    Fd(check(unsafe {
        libc::open(path.as_ptr(), flags | libc::O_CLOEXEC)
    }))
}

#[test]
fn stop_interrupts_a_free_flowing_transfer() {
    // /dev/zero -> /dev/null never ends and never makes the pump wait, so
    // only the periodic look at `stop` can end it. (Neither is a pipe, so
    // auto mode falls back to copy; for splice, /dev/zero -> a pipe drained
    // by a second pump into /dev/null.)
    for mode in MODES {
        let zero = open(c"/dev/zero", libc::O_RDONLY);
        let null = open(c"/dev/null", libc::O_WRONLY);
        let (stop_r, stop_w) = pipe();
        let (pipe_r, pipe_w) = pipe();
        let drain = if mode == Mode::Splice {
            Some(spawn_pump(pipe_r.0, null.0, opts(Mode::Splice)))
        } else {
            None
        };
        let writer = if drain.is_some() { pipe_w.0 } else { null.0 };
        let options = Options {
            stop: Some(stop_r.0),
            mode,
            ..Options::default()
        };
        let (rx, handle) = spawn_pump(zero.0, writer, options);
        let early = rx.recv_timeout(Duration::from_millis(50));
        assert!(early.is_err(), "{mode:?}: {early:?}");
        let started = Instant::now();
        write_all(&stop_w, b"x").unwrap();
        let moved = expect_stopped(&rx, started);
        assert!(moved > 0, "{mode:?}");
        handle.join().unwrap();
        drop(pipe_w);
        if let Some((drain_rx, drain_handle)) = drain {
            assert!(drain_rx.recv_timeout(DEADLINE).unwrap().unwrap() >= moved);
            drain_handle.join().unwrap();
        }
    }
}

#[test]
fn stop_already_readable_returns_at_once() {
    let (in_r, in_w) = pipe();
    let (_out_r, out_w) = pipe();
    let (stop_r, stop_w) = pipe();
    write_all(&in_w, b"data").unwrap();
    write_all(&stop_w, b"x").unwrap();
    let options = Options {
        stop: Some(stop_r.0),
        ..Options::default()
    };
    assert!(matches!(
        run(in_r.0, out_w.0, options),
        Err(PumpError::Stopped { moved: 0 })
    ));
}

#[test]
fn invalid_arguments_are_errors() {
    let (in_r, in_w) = pipe();
    let (_out_r, out_w) = pipe();
    let zero = Options {
        buffer_size: 0,
        ..Options::default()
    };
    assert!(matches!(
        run(in_r.0, out_w.0, zero),
        Err(PumpError::Os { ref error, .. }) if error.raw_os_error() == Some(libc::EINVAL)
    ));
    for mode in MODES {
        write_all(&in_w, b"data").unwrap(); // so the copy path gets to write
        match run(in_r.0, 1_000_000, opts(mode)) {
            Err(PumpError::Os { error, .. }) => {
                assert_eq!(error.raw_os_error(), Some(libc::EBADF), "{mode:?}");
            }
            other => panic!("{mode:?}: unexpected {other:?}"),
        }
    }
    let bad_stop = Options {
        stop: Some(1_000_000),
        ..Options::default()
    };
    assert!(matches!(
        run(in_r.0, out_w.0, bad_stop),
        Err(PumpError::Os { ref error, .. }) if error.raw_os_error() == Some(libc::EBADF)
    ));
}

/// Read exactly `want` bytes from a blocking pipe, or panic after `DEADLINE`.
fn read_exactly(fd: &Fd, want: usize) -> Vec<u8> {
    let deadline = Instant::now() + DEADLINE;
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    while out.len() < want {
        let mut fds = [pollfd(fd.0, libc::POLLIN)];
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no byte after {DEADLINE:?}");
        sys_poll(&mut fds, left.as_millis() as libc::c_int).unwrap();
        if fds[0].revents != 0 {
            let n = sys_read(fd.0, &mut buf[..want - out.len()]).unwrap();
            out.extend_from_slice(&buf[..n]);
        }
    }
    out
}

#[test]
fn a_trickle_is_passed_on_byte_by_byte() {
    // Each short transfer makes the pump wait for more input before trying
    // again: every byte must still come out before the next one goes in (no
    // batching that would hold bytes back), on the writer and on the tap.
    for (mode, with_tap) in [(Mode::Auto, false), (Mode::Auto, true), (Mode::Copy, true)] {
        let (in_r, in_w) = pipe();
        let (out_r, out_w) = pipe();
        let (tap_r, tap_w) = pipe();
        let (stop_r, _stop_w) = pipe();
        let options = Options {
            tap: with_tap.then_some(tap_w.0),
            stop: Some(stop_r.0),
            mode,
            ..Options::default()
        };
        let (rx, handle) = spawn_pump(in_r.0, out_w.0, options);
        for byte in 0..50u8 {
            write_all(&in_w, &[byte]).unwrap();
            assert_eq!(read_exactly(&out_r, 1), [byte], "{mode:?}");
            if with_tap {
                assert_eq!(read_exactly(&tap_r, 1), [byte], "{mode:?} tap");
            }
        }
        drop(in_w);
        assert_eq!(rx.recv_timeout(DEADLINE).unwrap().unwrap(), 50);
        handle.join().unwrap();
    }
}
