//! `cuprum._streams_rs.line_cursor`: the async iterator behind `stdout_lines()`.
//!
//! An `async for` step over an async generator resumes a Python frame and
//! allocates a `StopIteration` per item: about 100 ns on CPython 3.11, more than
//! a whole `for line in file` step. A cursor hands out lines already split (its
//! source's `ready` iterator) from C: `__anext__` takes the next line and returns
//! the cursor itself as the awaitable, which completes at once through `am_send`
//! (no frame, no exception; 3.12+ call `tp_iternext`, which raises the
//! `StopIteration`). Only when the lines run out does `__anext__` return a real
//! coroutine, `refill()`, which reads and splits more; cancellation, deadlines
//! and end-of-stream are its business, in Python.
//!
//! As an async generator's, a step never raises from `__anext__` itself (an error
//! comes back as an awaitable that raises it) and is a full coroutine (`send`,
//! `throw`, `close`), so tasks can run it. Whatever the cursor calls may re-enter
//! it, so the slots hold their own reference to what they call and re-read the
//! fields afterwards.
//!
//! The type is built with `PyType_FromSpec` because `am_send` is not a slot
//! PyO3's classes can fill.

use pyo3::exceptions::{PyBaseException, PyRuntimeError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyTuple, PyType};
use std::os::raw::{c_int, c_void};
use std::ptr;

/// The instance layout: the object header, then three owned references (each
/// may be NULL).
#[repr(C)]
struct Cursor {
    ob_base: ffi::PyObject,
    /// The object whose `ready` attribute holds the lines to hand out; NULL
    /// once closed, and in a detached awaitable.
    source: *mut ffi::PyObject,
    /// `refill()`: a coroutine returning the next line (or raising
    /// `StopAsyncIteration`), awaited when `ready` is exhausted.
    refill: *mut ffi::PyObject,
    /// The `ready` iterator last read (a cache of `source.ready`).
    lines: *mut ffi::PyObject,
    /// The value the pending `await` returns, taken by it.
    value: *mut ffi::PyObject,
    /// Whether `value` is an exception the `await` raises instead.
    raises: bool,
}

static TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// A new cursor over `source.ready` that awaits `refill()` for more: an async
/// iterator of the lines (see the module's documentation).
#[pyfunction]
pub fn line_cursor(
    py: Python<'_>,
    source: Bound<'_, PyAny>,
    refill: Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let cursor = alloc(py)?;
    // SAFETY: `cursor` is a fresh, zeroed instance of the cursor type.
    unsafe {
        let fields = cursor as *mut Cursor;
        (*fields).source = source.into_ptr();
        (*fields).refill = refill.into_ptr();
        Ok(Bound::from_owned_ptr(py, cursor).unbind())
    }
}

/// A zeroed, GC-tracked instance (a new reference).
fn alloc(py: Python<'_>) -> PyResult<*mut ffi::PyObject> {
    let ty = cursor_type(py)?;
    // SAFETY: the type is a heap type with our basic size; GenericAlloc zeroes it.
    let obj = unsafe { ffi::PyType_GenericAlloc(ty.as_ptr() as *mut ffi::PyTypeObject, 0) };
    if obj.is_null() {
        return Err(PyErr::fetch(py));
    }
    Ok(obj)
}

/// An awaitable that completes at once with `value` (stolen): what `__anext__`
/// returns when the cursor's own pending value is still unclaimed.
unsafe fn detached(value: *mut ffi::PyObject) -> *mut ffi::PyObject {
    unsafe { detached_as(value, false) }
}

/// An awaitable that raises the error set now: `__anext__` never raises itself,
/// as an async generator's does not (and `anext(it, default)` dereferences what
/// a raising `__anext__` returns, crashing CPython 3.11 to 3.13).
unsafe fn failing() -> *mut ffi::PyObject {
    // SAFETY: only called from slots, with the GIL held and an error set.
    let py = unsafe { Python::assume_attached() };
    let exc = PyErr::fetch(py).into_value(py).into_ptr();
    unsafe { detached_as(exc, true) }
}

unsafe fn detached_as(value: *mut ffi::PyObject, raises: bool) -> *mut ffi::PyObject {
    // SAFETY: only called from slots, with the GIL held.
    let py = unsafe { Python::assume_attached() };
    match alloc(py) {
        Ok(obj) => {
            let fields = obj as *mut Cursor;
            unsafe {
                (*fields).value = value;
                (*fields).raises = raises;
            }
            obj
        }
        Err(err) => {
            unsafe { ffi::Py_DECREF(value) };
            err.restore(py);
            ptr::null_mut()
        }
    }
}

fn cursor_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    TYPE.get_or_try_init(py, || {
        let mut slots = [
            slot(ffi::Py_tp_dealloc, dealloc as *mut c_void),
            slot(ffi::Py_tp_traverse, traverse as *mut c_void),
            slot(ffi::Py_tp_clear, clear as *mut c_void),
            slot(ffi::Py_tp_iter, ffi::PyObject_SelfIter as *mut c_void),
            slot(ffi::Py_tp_iternext, iternext as *mut c_void),
            slot(ffi::Py_tp_methods, METHODS.0.as_ptr() as *mut c_void),
            slot(ffi::Py_am_aiter, aiter as *mut c_void),
            slot(ffi::Py_am_anext, anext as *mut c_void),
            slot(ffi::Py_am_await, await_ as *mut c_void),
            slot(ffi::Py_am_send, send as *mut c_void),
            slot(0, ptr::null_mut()),
        ];
        let mut spec = ffi::PyType_Spec {
            name: c"cuprum._streams_rs.LineCursor".as_ptr(),
            basicsize: std::mem::size_of::<Cursor>() as c_int,
            itemsize: 0,
            flags: (ffi::Py_TPFLAGS_DEFAULT
                | ffi::Py_TPFLAGS_HAVE_GC
                | ffi::Py_TPFLAGS_DISALLOW_INSTANTIATION) as _,
            slots: slots.as_mut_ptr(),
        };
        // SAFETY: the spec and its slots outlive the call; METHODS is static.
        let ty = unsafe { ffi::PyType_FromSpec(&mut spec) };
        if ty.is_null() {
            return Err(PyErr::fetch(py));
        }
        // SAFETY: PyType_FromSpec returned a new reference to a type object.
        Ok(unsafe { Bound::from_owned_ptr(py, ty).cast_into_unchecked::<PyType>() }.unbind())
    })
    .map(|ty| ty.bind(py))
}

fn slot(slot: c_int, pfunc: *mut c_void) -> ffi::PyType_Slot {
    ffi::PyType_Slot { slot, pfunc }
}

struct Methods([ffi::PyMethodDef; 5]);
// SAFETY: the table is immutable and only read by CPython under the GIL.
unsafe impl Sync for Methods {}

static METHODS: Methods = Methods([
    ffi::PyMethodDef {
        ml_name: c"aclose".as_ptr(),
        ml_meth: ffi::PyMethodDefPointer {
            PyCFunction: aclose,
        },
        ml_flags: ffi::METH_NOARGS,
        ml_doc: c"Stop the iteration (an awaitable, as an async generator's aclose()).".as_ptr(),
    },
    ffi::PyMethodDef {
        ml_name: c"send".as_ptr(),
        ml_meth: ffi::PyMethodDefPointer {
            PyCFunction: send_method,
        },
        ml_flags: ffi::METH_O,
        ml_doc: c"Complete the step: raise StopIteration with its value.".as_ptr(),
    },
    ffi::PyMethodDef {
        ml_name: c"throw".as_ptr(),
        ml_meth: ffi::PyMethodDefPointer { PyCFunction: throw },
        ml_flags: ffi::METH_VARARGS,
        ml_doc: c"End the step with an exception (its line is dropped).".as_ptr(),
    },
    ffi::PyMethodDef {
        ml_name: c"close".as_ptr(),
        ml_meth: ffi::PyMethodDefPointer { PyCFunction: close },
        ml_flags: ffi::METH_NOARGS,
        ml_doc: c"End the step (its line is dropped).".as_ptr(),
    },
    ffi::PyMethodDef::zeroed(),
]);

/// The instance's fields. A raw pointer, never a reference: every call into Python
/// may re-enter the cursor (a `ready` iterator or a refill that steps or closes it),
/// so the slots re-read each field after such a call and hold their own reference
/// to whatever they call into.
fn fields(obj: *mut ffi::PyObject) -> *mut Cursor {
    obj as *mut Cursor
}

/// Raise `StopAsyncIteration`: the cursor is closed.
unsafe fn finished() -> *mut ffi::PyObject {
    unsafe { ffi::PyErr_SetNone(ffi::PyExc_StopAsyncIteration) };
    ptr::null_mut()
}

unsafe extern "C" fn aiter(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    unsafe { ffi::Py_INCREF(obj) };
    obj
}

unsafe extern "C" fn anext(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    let step = unsafe { step(obj) };
    if step.is_null() {
        return unsafe { failing() };
    }
    step
}

/// `__anext__`'s work: an awaitable for the next line, or NULL with an error set.
unsafe fn step(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    let cursor = fields(obj);
    unsafe {
        if (*cursor).source.is_null() {
            return finished();
        }
        let mut line = next((*cursor).lines);
        if line.is_null() {
            if !ffi::PyErr_Occurred().is_null() {
                return ptr::null_mut();
            }
            // Exhausted: another reader may have put new lines in `source.ready`.
            let ready = match ready_of((*cursor).source) {
                Some(ready) => ready,
                None => return ptr::null_mut(),
            };
            if ready != (*cursor).lines {
                let old = std::mem::replace(&mut (*cursor).lines, ffi::Py_NewRef(ready));
                ffi::Py_XDECREF(old);
                line = next(ready);
            }
            ffi::Py_DECREF(ready);
            if line.is_null() && !ffi::PyErr_Occurred().is_null() {
                return ptr::null_mut();
            }
        }
        if line.is_null() {
            return refill(cursor);
        }
        if !(*cursor).value.is_null() {
            // The last `__anext__()` was not awaited yet: this one needs its own.
            return detached(line);
        }
        (*cursor).value = line;
        ffi::Py_INCREF(obj);
    }
    obj
}

/// `source.ready` (a new reference), checked to be an iterator; NULL with an error
/// set otherwise, or when the cursor was closed while it ran.
unsafe fn ready_of(source: *mut ffi::PyObject) -> Option<*mut ffi::PyObject> {
    unsafe {
        if source.is_null() {
            finished();
            return None;
        }
        ffi::Py_INCREF(source);
        let ready = ffi::PyObject_GetAttrString(source, c"ready".as_ptr());
        ffi::Py_DECREF(source);
        if ready.is_null() {
            return None;
        }
        if ffi::PyIter_Check(ready) == 0 {
            // A list would crash `PyIter_Next`, and could only be read from the start.
            let py = Python::assume_attached();
            let kind = Bound::from_borrowed_ptr(py, ready).get_type().name();
            let kind = kind.map_or_else(|_| "?".to_owned(), |name| name.to_string());
            ffi::Py_DECREF(ready);
            PyTypeError::new_err(format!(
                "line_cursor: source.ready must be an iterator of lines, not {kind}"
            ))
            .restore(py);
            return None;
        }
        Some(ready)
    }
}

/// `refill()`, the coroutine that reads more (or StopAsyncIteration once closed).
unsafe fn refill(cursor: *mut Cursor) -> *mut ffi::PyObject {
    unsafe {
        let refill = (*cursor).refill;
        if refill.is_null() {
            return finished();
        }
        ffi::Py_INCREF(refill);
        let coroutine = ffi::PyObject_CallNoArgs(refill);
        ffi::Py_DECREF(refill);
        coroutine
    }
}

/// The next item of `iterator` (NULL: exhausted, or an error is set), holding a
/// reference for the call: the iterator may drop the cursor's own (by closing it).
unsafe fn next(iterator: *mut ffi::PyObject) -> *mut ffi::PyObject {
    if iterator.is_null() {
        return ptr::null_mut();
    }
    unsafe {
        ffi::Py_INCREF(iterator);
        let item = ffi::PyIter_Next(iterator);
        ffi::Py_DECREF(iterator);
        item
    }
}

unsafe extern "C" fn await_(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    unsafe { ffi::Py_INCREF(obj) };
    obj
}

/// Take the pending value; NULL with an error set when it was already taken
/// (`RuntimeError`) or is an error to raise.
unsafe fn take(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    let cursor = fields(obj);
    let value = unsafe { std::mem::replace(&mut (*cursor).value, ptr::null_mut()) };
    let py = unsafe { Python::assume_attached() };
    if value.is_null() {
        PyRuntimeError::new_err("cannot reuse already awaited __anext__()").restore(py);
    } else if unsafe { std::mem::replace(&mut (*cursor).raises, false) } {
        // SAFETY: a failing step's value is the exception instance it owns.
        let exc = unsafe { Bound::from_owned_ptr(py, value) };
        PyErr::from_value(exc).restore(py);
        return ptr::null_mut();
    }
    value
}

unsafe extern "C" fn send(
    obj: *mut ffi::PyObject,
    _arg: *mut ffi::PyObject,
    result: *mut *mut ffi::PyObject,
) -> ffi::PySendResult {
    let value = unsafe { take(obj) };
    unsafe { *result = value };
    if value.is_null() {
        ffi::PySendResult::PYGEN_ERROR
    } else {
        ffi::PySendResult::PYGEN_RETURN
    }
}

unsafe extern "C" fn iternext(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    let value = unsafe { take(obj) };
    if value.is_null() {
        return ptr::null_mut();
    }
    unsafe {
        if ffi::PyUnicode_CheckExact(value) != 0 {
            ffi::PyErr_SetObject(ffi::PyExc_StopIteration, value);
        } else {
            // A tuple (or an exception) would be taken as the exception's args.
            let args = ffi::PyTuple_Pack(1, value);
            if !args.is_null() {
                ffi::PyErr_SetObject(ffi::PyExc_StopIteration, args);
                ffi::Py_DECREF(args);
            }
        }
        ffi::Py_DECREF(value);
    }
    ptr::null_mut()
}

/// `send(value)`, for code that drives an awaitable by hand: as `__next__`.
unsafe extern "C" fn send_method(
    obj: *mut ffi::PyObject,
    _value: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    unsafe { iternext(obj) }
}

/// Drop the step's pending line, if it still has one (`throw()` and `close()`).
unsafe fn abandon(obj: *mut ffi::PyObject) {
    let cursor = fields(obj);
    unsafe {
        (*cursor).raises = false;
        ffi::Py_CLEAR(&mut (*cursor).value);
    }
}

/// `throw(exc)` (or the older `throw(type[, value[, traceback]])`): the step ends
/// with `exc`, as a coroutine thrown into before it started; its line is dropped.
/// With `close()` this makes a step a `collections.abc.Coroutine`, which
/// `asyncio.create_task`, trio's and anyio's `start_soon` and `anext(it, default)`
/// under a cancelled task require.
unsafe extern "C" fn throw(
    obj: *mut ffi::PyObject,
    args: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    unsafe { abandon(obj) };
    // SAFETY: a METH_VARARGS method receives its arguments as a tuple, with the GIL.
    let py = unsafe { Python::assume_attached() };
    let args = unsafe { Bound::from_borrowed_ptr(py, args).cast_into_unchecked::<PyTuple>() };
    let err = match thrown(&args) {
        Ok(exc) => PyErr::from_value(exc),
        Err(err) => err,
    };
    err.restore(py);
    ptr::null_mut()
}

/// The exception `throw(*args)` raises.
fn thrown<'py>(args: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
    let refused = || PyTypeError::new_err("throw() expects an exception class or instance");
    let kind = args.get_item(0).map_err(|_| refused())?;
    let value = args.get_item(1).ok().filter(|value| !value.is_none());
    let exc = if kind.is_instance_of::<PyBaseException>() {
        if value.is_some() {
            return Err(PyTypeError::new_err(
                "instance exception may not have a separate value",
            ));
        }
        kind
    } else if kind
        .cast::<PyType>()
        .is_ok_and(|kind| kind.is_subclass_of::<PyBaseException>().unwrap_or(false))
    {
        match value {
            Some(value) if value.is_instance(&kind)? => value,
            Some(value) => match value.cast_into::<PyTuple>() {
                Ok(values) => kind.call1(values)?,
                Err(value) => kind.call1((value.into_inner(),))?,
            },
            None => kind.call0()?,
        }
    } else {
        return Err(refused());
    };
    if let Some(traceback) = args.get_item(2).ok().filter(|tb| !tb.is_none()) {
        exc.call_method1("with_traceback", (traceback,))?;
    }
    Ok(exc)
}

unsafe extern "C" fn close(obj: *mut ffi::PyObject, _: *mut ffi::PyObject) -> *mut ffi::PyObject {
    unsafe {
        abandon(obj);
        ffi::Py_NewRef(ffi::Py_None())
    }
}

unsafe extern "C" fn aclose(obj: *mut ffi::PyObject, _: *mut ffi::PyObject) -> *mut ffi::PyObject {
    let cursor = fields(obj);
    unsafe {
        ffi::Py_CLEAR(&mut (*cursor).source);
        ffi::Py_CLEAR(&mut (*cursor).refill);
        ffi::Py_CLEAR(&mut (*cursor).lines);
        detached(ffi::Py_NewRef(ffi::Py_None()))
    }
}

unsafe extern "C" fn traverse(
    obj: *mut ffi::PyObject,
    visit: ffi::visitproc,
    arg: *mut c_void,
) -> c_int {
    let cursor = unsafe { &*fields(obj) };
    let ty = unsafe { ffi::Py_TYPE(obj) } as *mut ffi::PyObject;
    for member in [ty, cursor.source, cursor.refill, cursor.lines, cursor.value] {
        if !member.is_null() {
            let status = unsafe { visit(member, arg) };
            if status != 0 {
                return status;
            }
        }
    }
    0
}

unsafe extern "C" fn clear(obj: *mut ffi::PyObject) -> c_int {
    let cursor = fields(obj);
    unsafe {
        ffi::Py_CLEAR(&mut (*cursor).source);
        ffi::Py_CLEAR(&mut (*cursor).refill);
        ffi::Py_CLEAR(&mut (*cursor).lines);
        ffi::Py_CLEAR(&mut (*cursor).value);
    }
    0
}

unsafe extern "C" fn dealloc(obj: *mut ffi::PyObject) {
    unsafe {
        let ty = ffi::Py_TYPE(obj);
        ffi::PyObject_GC_UnTrack(obj as *mut c_void);
        clear(obj);
        let free: ffi::freefunc = std::mem::transmute(ffi::PyType_GetSlot(ty, ffi::Py_tp_free));
        free(obj as *mut c_void);
        ffi::Py_DECREF(ty as *mut ffi::PyObject);
    }
}
