//! Where a chunk's lines end: `cuprum._streams_rs.line_marks`.
//!
//! An observed hop's chunks are split into lines by cuprum's one definition
//! (`cuprum/_transport/lines.py`), which needs, per chunk, how many newlines it
//! holds and where the first and the last are. CPython's `bytes.count` looks at
//! one byte at a time; the loop below compiles to vector instructions, so
//! counting the lines of a hop costs a fraction of the copy that brought the
//! bytes in.

use pyo3::prelude::*;

/// `(count, first, last)`: how many `\n` bytes `data` holds and the index of the
/// first and the last, or `(0, -1, -1)` without any.
pub fn marks(data: &[u8]) -> (usize, isize, isize) {
    let Some(first) = data.iter().position(|&b| b == b'\n') else {
        return (0, -1, -1);
    };
    let last = data.iter().rposition(|&b| b == b'\n').unwrap_or(first);
    // Count in fixed-size blocks: each block's sum fits a u8 lane, which lets
    // the compiler vectorise the comparison and the additions.
    let rest = &data[first..=last];
    let mut count = 0usize;
    for block in rest.chunks(255) {
        let mut lanes = 0u8;
        for &byte in block {
            lanes += u8::from(byte == b'\n');
        }
        count += usize::from(lanes);
    }
    (count, first as isize, last as isize)
}

/// How many newlines `data` holds and where the first and the last are:
/// `(count, first, last)`, or `(0, -1, -1)`. See `cuprum/_transport/lines.py`.
#[pyfunction]
pub fn line_marks(data: &[u8]) -> (usize, isize, isize) {
    marks(data)
}

#[cfg(test)]
mod tests {
    use super::marks;

    #[test]
    fn no_newline() {
        assert_eq!(marks(b""), (0, -1, -1));
        assert_eq!(marks(b"abc"), (0, -1, -1));
    }

    #[test]
    fn counts_and_ends() {
        assert_eq!(marks(b"\n"), (1, 0, 0));
        assert_eq!(marks(b"a\nb\r\nc"), (2, 1, 4));
        assert_eq!(marks(b"\n\n\n"), (3, 0, 2));
    }

    #[test]
    fn long_runs_cross_the_blocks() {
        let mut data = vec![b'x'; 10_000];
        for i in (0..10_000).step_by(7) {
            data[i] = b'\n';
        }
        let expected = data.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(marks(&data), (expected, 0, 9996));
        let all = vec![b'\n'; 1000];
        assert_eq!(marks(&all), (1000, 0, 999));
    }
}
