//! Per-line events built natively: `cuprum._streams_rs.deliver_line_events`.
//!
//! A line event is an instance of cuprum's `ExecEvent`, a frozen dataclass with
//! slots: building one in Python costs a frozen `__setattr__` per field (or,
//! on cuprum's pure path, plain stores into a twin class and a `__class__`
//! switch). Here the instance is allocated with `PyType_GenericAlloc` (which
//! runs no `__init__`) and its slots are written directly, at offsets that
//! Python found once with [`slot_offsets`] on a real instance, then each hook
//! is called with it. The slots are plain object pointers after the object
//! header, which is what CPython's `__slots__` are; `slot_offsets` refuses any
//! layout it cannot account for, and Python then keeps its own path.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple, PyType};

/// Bytes of the object header (`ob_refcnt`, `ob_type`) before the first slot.
const HEADER: isize = 2 * std::mem::size_of::<usize>() as isize;
const WORD: isize = std::mem::size_of::<usize>() as isize;

/// The basic size of `ty` (`type.__basicsize__`).
fn basicsize(ty: &Bound<'_, PyType>) -> PyResult<isize> {
    ty.getattr("__basicsize__")?.extract()
}

/// Where each of `values` sits in `instance`: the byte offset of the slot that
/// holds that very object, for every value in order. `values` must be distinct
/// objects and the instance must have exactly one slot per value after the
/// object header (no `__dict__`, no `__weakref__`), else `ValueError`.
#[pyfunction]
pub fn slot_offsets(
    instance: &Bound<'_, PyAny>,
    values: &Bound<'_, PyTuple>,
) -> PyResult<Vec<isize>> {
    let ty = instance.get_type();
    let size = basicsize(&ty)?;
    let count = values.len() as isize;
    if size != HEADER + count * WORD {
        return Err(PyValueError::new_err(format!(
            "{} has {size} bytes, not a header and {count} slots",
            ty.name()?
        )));
    }
    let base = instance.as_ptr() as *const u8;
    let mut offsets = Vec::with_capacity(values.len());
    for value in values.iter() {
        let wanted = value.as_ptr();
        let mut found = None;
        let mut offset = HEADER;
        while offset < size {
            // SAFETY: `offset` is inside the instance's `size` bytes, word aligned.
            let slot = unsafe { *(base.offset(offset) as *const *mut ffi::PyObject) };
            if slot == wanted {
                if found.is_some() {
                    return Err(PyValueError::new_err("a value sits in two slots"));
                }
                found = Some(offset);
            }
            offset += WORD;
        }
        match found {
            Some(offset) if !offsets.contains(&offset) => offsets.push(offset),
            _ => return Err(PyValueError::new_err("a value is in no slot of its own")),
        }
    }
    Ok(offsets)
}

/// For each line in `lines`, one instance of `event_type` whose slots hold
/// `template`'s values, except slot `line_index`, which holds the line; each
/// is passed to every hook in `hooks`, in order. The first exception a hook
/// raises propagates at once (the rest of the batch is not delivered).
///
/// `offsets` must come from [`slot_offsets`] for `event_type` and a template
/// of the same length: they are checked against the type's size here.
#[pyfunction]
pub fn deliver_line_events(
    event_type: &Bound<'_, PyType>,
    offsets: Vec<isize>,
    template: &Bound<'_, PyTuple>,
    line_index: usize,
    lines: &Bound<'_, PyList>,
    hooks: &Bound<'_, PyTuple>,
) -> PyResult<()> {
    let size = basicsize(event_type)?;
    let count = template.len();
    if offsets.len() != count || line_index >= count || size != HEADER + count as isize * WORD {
        return Err(PyValueError::new_err(
            "offsets, template and event type do not agree",
        ));
    }
    if offsets
        .iter()
        .any(|&o| o < HEADER || o >= size || o % WORD != 0)
    {
        return Err(PyValueError::new_err(
            "an offset lies outside the event's slots",
        ));
    }
    let values: Vec<*mut ffi::PyObject> = template.iter().map(|v| v.as_ptr()).collect();
    let hook_ptrs: Vec<*mut ffi::PyObject> = hooks.iter().map(|h| h.as_ptr()).collect();
    let ty = event_type.as_ptr() as *mut ffi::PyTypeObject;
    let py = lines.py();
    for line in lines.iter() {
        if !line.is_instance_of::<pyo3::types::PyString>() {
            return Err(PyTypeError::new_err("lines must be str"));
        }
        // SAFETY: a fresh, zeroed instance of `event_type` (PyType_GenericAlloc
        // takes a reference to a heap type and tracks a GC type); each slot
        // offset was checked to lie inside it; every stored pointer is a new
        // reference, owned by the instance from now on. No Python code runs
        // between the allocation and the last store.
        let event = unsafe {
            let event = ffi::PyType_GenericAlloc(ty, 0);
            if event.is_null() {
                return Err(PyErr::fetch(py));
            }
            let base = event as *mut u8;
            for (index, &offset) in offsets.iter().enumerate() {
                let value = if index == line_index {
                    line.as_ptr()
                } else {
                    values[index]
                };
                ffi::Py_INCREF(value);
                *(base.offset(offset) as *mut *mut ffi::PyObject) = value;
            }
            Bound::from_owned_ptr(py, event)
        };
        for &hook in &hook_ptrs {
            // SAFETY: `hook` is borrowed from `hooks`, alive for the call;
            // the varargs list ends with a null pointer.
            let result = unsafe {
                ffi::PyObject_CallFunctionObjArgs(
                    hook,
                    event.as_ptr(),
                    std::ptr::null_mut::<ffi::PyObject>(),
                )
            };
            if result.is_null() {
                return Err(PyErr::fetch(py));
            }
            // SAFETY: a new reference returned by the call.
            unsafe { ffi::Py_DECREF(result) };
        }
    }
    Ok(())
}
