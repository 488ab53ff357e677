//! cuprum's optional native extension, imported as `cuprum._streams_rs`.
//!
//! The transfer logic lives in [`pump`] (plain Rust, tested with `cargo test`);
//! this file only binds it to Python.

mod cursor;
mod events;
mod lines;
pub mod pump;
pub mod spawn;
mod spawn_py;

use pyo3::exceptions::{PyInterruptedError, PyOSError, PyValueError};
use pyo3::prelude::*;
use std::os::fd::RawFd;

/// Turn an `io::Error` into `OSError(errno, strerror)`; CPython picks the
/// matching subclass (`BrokenPipeError`, `BlockingIOError`, ...) from errno.
fn os_error(error: &std::io::Error) -> PyErr {
    match error.raw_os_error() {
        Some(errno) => {
            // std formats OS errors as "<strerror> (os error N)".
            let text = error.to_string();
            let suffix = format!(" (os error {errno})");
            let strerror = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
            PyOSError::new_err((errno, strerror))
        }
        None => PyOSError::new_err(error.to_string()),
    }
}

/// Move bytes from `reader_fd` to `writer_fd` until EOF on the reader and
/// return the number of bytes delivered to the writer. The GIL is released
/// for the whole transfer.
///
/// Pipe to pipe (and file/pipe pairs the kernel accepts) the bytes move with
/// splice(2), without copies; otherwise with read(2)/write(2). EINTR is
/// retried (after running Python signal handlers on the main thread; an
/// exception from a handler propagates). EPIPE on the writer ends the hop:
/// the count so far is returned.
///
/// The function closes none of the descriptors it is given.
///
/// * `buffer_size`: maximum bytes per splice/read call (> 0).
/// * `tap_fd`: write end of a pipe that also receives every byte (tee(2),
///   or the read/write path). If its reader goes away the hop continues
///   without the tap.
/// * `stop_fd`: as soon as it is readable (or hung up) the pump raises
///   `InterruptedError`. While it runs, `O_NONBLOCK` is set on reader, writer
///   and tap and restored afterwards.
#[pyfunction]
#[pyo3(signature = (reader_fd, writer_fd, *, buffer_size = pump::DEFAULT_BUFFER_SIZE, tap_fd = None, stop_fd = None))]
fn rust_pump_stream(
    py: Python<'_>,
    reader_fd: RawFd,
    writer_fd: RawFd,
    buffer_size: usize,
    tap_fd: Option<RawFd>,
    stop_fd: Option<RawFd>,
) -> PyResult<u64> {
    let options = options(
        pump::Mode::Auto,
        reader_fd,
        writer_fd,
        buffer_size,
        tap_fd,
        stop_fd,
    )?;
    transfer(py, reader_fd, writer_fd, options)
}

/// `rust_pump_stream` with the transfer strategy forced, for tests and
/// benchmarks only: `mode` is "auto", "splice" (no fallback: a refusal
/// raises `OSError(EINVAL)`) or "copy" (read/write only).
#[pyfunction]
#[pyo3(signature = (mode, reader_fd, writer_fd, *, buffer_size = pump::DEFAULT_BUFFER_SIZE, tap_fd = None, stop_fd = None))]
fn _pump_in_mode(
    py: Python<'_>,
    mode: &str,
    reader_fd: RawFd,
    writer_fd: RawFd,
    buffer_size: usize,
    tap_fd: Option<RawFd>,
    stop_fd: Option<RawFd>,
) -> PyResult<u64> {
    let mode = pump::Mode::parse(mode).ok_or_else(|| {
        PyValueError::new_err(format!(
            "mode must be 'auto', 'splice' or 'copy', not {mode:?}"
        ))
    })?;
    let options = options(mode, reader_fd, writer_fd, buffer_size, tap_fd, stop_fd)?;
    transfer(py, reader_fd, writer_fd, options)
}

/// Check the arguments and gather them into the pump's options.
fn options(
    mode: pump::Mode,
    reader_fd: RawFd,
    writer_fd: RawFd,
    buffer_size: usize,
    tap_fd: Option<RawFd>,
    stop_fd: Option<RawFd>,
) -> PyResult<pump::Options> {
    if buffer_size == 0 {
        return Err(PyValueError::new_err("buffer_size must be > 0"));
    }
    for (name, fd) in [
        ("reader_fd", Some(reader_fd)),
        ("writer_fd", Some(writer_fd)),
        ("tap_fd", tap_fd),
        ("stop_fd", stop_fd),
    ] {
        if fd.is_some_and(|fd| fd < 0) {
            return Err(PyValueError::new_err(format!("{name} must be >= 0")));
        }
    }
    Ok(pump::Options {
        buffer_size,
        tap: tap_fd,
        stop: stop_fd,
        mode,
    })
}

/// Run the pump without the GIL; map its failures to Python exceptions.
fn transfer(
    py: Python<'_>,
    reader_fd: RawFd,
    writer_fd: RawFd,
    options: pump::Options,
) -> PyResult<u64> {
    let result = py.detach(move || {
        // Like os.read: on EINTR run the Python signal handlers (a no-op off
        // the main thread) and stop if one of them raised.
        let mut on_eintr = || Python::attach(|py| py.check_signals());
        pump::pump(reader_fd, writer_fd, &options, &mut on_eintr)
    });
    match result {
        Ok(moved) => Ok(moved),
        Err(pump::PumpError::Stopped { moved }) => Err(PyInterruptedError::new_err((
            libc::EINTR,
            format!("rust_pump_stream stopped by stop_fd after {moved} bytes"),
        ))),
        Err(pump::PumpError::Os { error, .. }) => Err(os_error(&error)),
        Err(pump::PumpError::Hook(err)) => Err(err),
    }
}

/// Native helpers for cuprum (private API).
#[pymodule]
mod _streams_rs {
    #[pymodule_export]
    use super::cursor::line_cursor;
    #[pymodule_export]
    use super::events::{deliver_line_events, slot_offsets};
    #[pymodule_export]
    use super::lines::line_marks;
    #[pymodule_export]
    use super::spawn_py::spawn_process;
    #[pymodule_export]
    use super::{_pump_in_mode, rust_pump_stream};
}
