//! Python binding of [`crate::spawn`]: `cuprum._streams_rs.spawn_process`.

use crate::spawn::{self, Rlimit, Spawned, Spec, Stage};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyList, PyTuple};
use std::ffi::{CStr, CString, c_char};
use std::os::fd::RawFd;

unsafe extern "C" {
    /// The process's environment (libc's).
    static environ: *const *const c_char;
}

/// A copy of this process's environment, taken while the GIL is held.
///
/// Python threads change it (`os.environ[...] = ...`: `setenv`, which may move
/// the array and free the old one) only with the GIL held; once it is released
/// for the spawn, a child sharing our memory (`CLONE_VM`) must not exec with a
/// pointer into an array another thread may be freeing (`EFAULT`, or a torn
/// environment).
fn own_environment(_py: Python<'_>) -> Vec<CString> {
    let mut items = Vec::new();
    // SAFETY: `environ` is libc's NULL-terminated array of C strings; the GIL
    // (held: `_py`) keeps Python threads from changing it while it is read.
    unsafe {
        let mut entry = environ;
        while !entry.is_null() && !(*entry).is_null() {
            items.push(CStr::from_ptr(*entry).to_owned());
            entry = entry.add(1);
        }
    }
    items
}

/// A NUL-free C string, or a `ValueError` naming the parameter.
fn c_string(name: &str, bytes: &[u8]) -> PyResult<CString> {
    CString::new(bytes).map_err(|_| PyValueError::new_err(format!("{name} contains a NUL byte")))
}

/// The strerror text of `errno`, without std's " (os error N)" suffix.
fn strerror(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    let suffix = format!(" (os error {errno})");
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

/// `OSError(errno, strerror[, filename])`, so CPython picks the subclass
/// (`FileNotFoundError`, `PermissionError`, ...). Exec and chdir failures
/// name the file, as `subprocess` does; other steps name themselves.
fn spawn_error(err: &spawn::SpawnError, path: &[u8], cwd: Option<&[u8]>) -> PyErr {
    let errno = err.error.raw_os_error().unwrap_or(libc::EIO);
    let text = strerror(errno);
    let file = match err.stage {
        Stage::Exec => Some(path),
        Stage::Chdir => cwd,
        _ => None,
    };
    match file {
        Some(file) => PyOSError::new_err((errno, text, String::from_utf8_lossy(file).into_owned())),
        None => PyOSError::new_err((errno, format!("{}: {text}", err.stage.name()))),
    }
}

/// Start a program and return `(pid, pidfd)` (`pidfd` is `None` only on
/// kernels without pidfds). The GIL is released while the child starts.
///
/// * `path`: absolute path of the program; `argv` includes the program name;
///   `env` is the whole environment as `b"NAME=value"` items, or `None` for
///   this process's own (libc's `environ`, copied before the GIL is released).
/// * `fds`: the parent descriptors that become the child's 0, 1 and 2; every
///   other descriptor is closed in the child.
/// * `cgroup_fd`: a cgroup v2 directory descriptor; the child starts inside
///   it (`clone3` with `CLONE_INTO_CGROUP`), so it never runs outside.
/// * `join_cgroup_fds`: open (write) `cgroup.procs` files of cgroup v1
///   hierarchies; the child writes itself into each before anything else.
/// * `new_session`: `setsid()` instead of a new process group;
///   `controlling_tty` (0, 1 or 2, needs `new_session`) is then made the
///   controlling terminal.
/// * `rlimits`: `(resource, soft, hard)` items set with `setrlimit` in the
///   child (`resource.RLIMIT_*`, `resource.RLIM_INFINITY`).
/// * `copy_on_write`: a copy-on-write child instead of the default
///   shared-memory one (slower; for sandboxes that refuse `CLONE_VM`).
///
/// * `into`: a list the `(pid, pidfd)` tuple is appended to before the call
///   returns. A Python signal handler that raises runs only once the call has
///   returned (the exception replaces its result): what is in `into` is then
///   still there for the caller to kill and reap. If the append fails, the
///   child is killed and reaped here, and the error raised.
///
/// Raises `OSError` with the child's errno when it could not start
/// (`filename` is `path` for exec failures, `cwd` for chdir failures).
#[pyfunction]
#[pyo3(signature = (path, argv, env, fds, *, cwd = None, cgroup_fd = None, join_cgroup_fds = Vec::new(), new_session = false,
                    controlling_tty = None, rlimits = Vec::new(), copy_on_write = false, into = None))]
#[allow(clippy::too_many_arguments)]
pub fn spawn_process<'py>(
    py: Python<'py>,
    path: PyBackedBytes,
    argv: Vec<PyBackedBytes>,
    env: Option<Vec<PyBackedBytes>>,
    fds: (RawFd, RawFd, RawFd),
    cwd: Option<PyBackedBytes>,
    cgroup_fd: Option<RawFd>,
    join_cgroup_fds: Vec<RawFd>,
    new_session: bool,
    controlling_tty: Option<RawFd>,
    rlimits: Vec<(i32, u64, u64)>,
    copy_on_write: bool,
    into: Option<Bound<'py, PyList>>,
) -> PyResult<Bound<'py, PyTuple>> {
    if path.first() != Some(&b'/') {
        return Err(PyValueError::new_err("path must be absolute"));
    }
    if argv.is_empty() {
        return Err(PyValueError::new_err("argv must not be empty"));
    }
    let (stdin, stdout, stderr) = fds;
    let mut all_fds = [stdin, stdout, stderr]
        .into_iter()
        .chain(cgroup_fd)
        .chain(join_cgroup_fds.iter().copied());
    if all_fds.any(|fd| fd < 0) {
        return Err(PyValueError::new_err("descriptors must be >= 0"));
    }
    if controlling_tty.is_some_and(|fd| !(0..3).contains(&fd))
        || (controlling_tty.is_some() && !new_session)
    {
        return Err(PyValueError::new_err(
            "controlling_tty must be 0, 1 or 2 and needs new_session=True",
        ));
    }
    let spec = Spec {
        path: c_string("path", &path)?,
        argv: argv
            .iter()
            .map(|a| c_string("argv", a))
            .collect::<PyResult<_>>()?,
        env: match env {
            Some(items) => items
                .iter()
                .map(|e| c_string("env", e))
                .collect::<PyResult<_>>()?,
            None => own_environment(py),
        },
        fds: [stdin, stdout, stderr],
        cwd: cwd.as_deref().map(|c| c_string("cwd", c)).transpose()?,
        cgroup: cgroup_fd,
        join_cgroups: join_cgroup_fds,
        new_session,
        controlling_tty,
        rlimits: rlimits
            .into_iter()
            .map(|(resource, soft, hard)| Rlimit {
                resource,
                soft,
                hard,
            })
            .collect(),
        copy_on_write,
    };
    match py.detach(|| spawn::spawn(&spec)) {
        Ok(child) => hand_over(py, child, into.as_ref()),
        Err(err) => Err(spawn_error(&err, &path, cwd.as_deref())),
    }
}

/// `(pid, pidfd)`, appended to `into` first; a child that cannot be handed
/// over (no memory for the tuple or the append) is killed and reaped.
fn hand_over<'py>(
    py: Python<'py>,
    child: Spawned,
    into: Option<&Bound<'py, PyList>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let made = (child.pid, child.pidfd)
        .into_pyobject(py)
        .and_then(|item| match into {
            Some(list) => list.append(&item).map(|()| item),
            None => Ok(item),
        });
    if made.is_err() {
        spawn::discard(child);
    }
    made
}
