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
//! The type is built with `PyType_FromSpec` because `am_send` is not a slot
//! PyO3's classes can fill.

use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
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
    // SAFETY: only called from slots, with the GIL held.
    let py = unsafe { Python::assume_attached() };
    match alloc(py) {
        Ok(obj) => {
            unsafe { (*(obj as *mut Cursor)).value = value };
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

struct Methods([ffi::PyMethodDef; 3]);
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
    ffi::PyMethodDef::zeroed(),
]);

/// Borrow the instance's fields.
unsafe fn fields<'a>(obj: *mut ffi::PyObject) -> &'a mut Cursor {
    // SAFETY: every slot of the type receives an instance of the type.
    unsafe { &mut *(obj as *mut Cursor) }
}

unsafe extern "C" fn aiter(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    unsafe { ffi::Py_INCREF(obj) };
    obj
}

unsafe extern "C" fn anext(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    let cursor = unsafe { fields(obj) };
    if cursor.source.is_null() {
        unsafe { ffi::PyErr_SetNone(ffi::PyExc_StopAsyncIteration) };
        return ptr::null_mut();
    }
    let mut line = unsafe { next(cursor.lines) };
    if line.is_null() {
        if unsafe { !ffi::PyErr_Occurred().is_null() } {
            return ptr::null_mut();
        }
        // Exhausted: another reader may have put new lines in `source.ready`.
        let ready = unsafe { ffi::PyObject_GetAttrString(cursor.source, c"ready".as_ptr()) };
        if ready.is_null() {
            return ptr::null_mut();
        }
        if ready == cursor.lines {
            unsafe { ffi::Py_DECREF(ready) };
        } else {
            let old = std::mem::replace(&mut cursor.lines, ready);
            unsafe { ffi::Py_XDECREF(old) };
            line = unsafe { next(ready) };
            if line.is_null() && unsafe { !ffi::PyErr_Occurred().is_null() } {
                return ptr::null_mut();
            }
        }
    }
    if line.is_null() {
        return unsafe { ffi::PyObject_CallNoArgs(cursor.refill) };
    }
    if !cursor.value.is_null() {
        // The last `__anext__()` was not awaited yet: this one needs its own.
        return unsafe { detached(line) };
    }
    cursor.value = line;
    unsafe { ffi::Py_INCREF(obj) };
    obj
}

/// The next item of `iterator` (NULL: exhausted, or an error is set).
unsafe fn next(iterator: *mut ffi::PyObject) -> *mut ffi::PyObject {
    if iterator.is_null() {
        return ptr::null_mut();
    }
    unsafe { ffi::PyIter_Next(iterator) }
}

unsafe extern "C" fn await_(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    unsafe { ffi::Py_INCREF(obj) };
    obj
}

/// Take the pending value; NULL with `RuntimeError` when it was already taken.
unsafe fn take(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    let cursor = unsafe { fields(obj) };
    let value = std::mem::replace(&mut cursor.value, ptr::null_mut());
    if value.is_null() {
        let py = unsafe { Python::assume_attached() };
        PyRuntimeError::new_err("cannot reuse already awaited __anext__()").restore(py);
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

unsafe extern "C" fn aclose(obj: *mut ffi::PyObject, _: *mut ffi::PyObject) -> *mut ffi::PyObject {
    let cursor = unsafe { fields(obj) };
    unsafe {
        ffi::Py_CLEAR(&mut cursor.source);
        ffi::Py_CLEAR(&mut cursor.refill);
        ffi::Py_CLEAR(&mut cursor.lines);
        detached(ffi::Py_NewRef(ffi::Py_None()))
    }
}

unsafe extern "C" fn traverse(
    obj: *mut ffi::PyObject,
    visit: ffi::visitproc,
    arg: *mut c_void,
) -> c_int {
    let cursor = unsafe { fields(obj) };
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
    let cursor = unsafe { fields(obj) };
    unsafe {
        ffi::Py_CLEAR(&mut cursor.source);
        ffi::Py_CLEAR(&mut cursor.refill);
        ffi::Py_CLEAR(&mut cursor.lines);
        ffi::Py_CLEAR(&mut cursor.value);
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
