//! The error of taking a gradient.

use std::fmt;
use std::panic::Location;

/// Why a gradient could not be taken. Every variant says what went wrong and where; none of them
/// is ever replaced by a wrong number.
///
/// ```
/// use pyro_tape::{Real, TapeError, gradient};
///
/// // A Real kept from one gradient and used in the next is an error, not a wrong number.
/// let mut kept = Real::constant(0.0);
/// gradient(&[2.0], |x| {
///     kept = x[0] * 3.0;
///     Ok::<_, TapeError>(kept)
/// })?;
/// let err = gradient(&[1.0], |x| Ok::<_, TapeError>(x[0] * kept)).unwrap_err();
/// assert!(matches!(err, TapeError::Stale { value: 6.0, .. }));
/// assert!(err.to_string().starts_with("a Real from an earlier gradient (value 6) was used at "));
/// # Ok::<(), TapeError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TapeError {
    /// A gradient was started while another one was being taken on the same thread.
    Nested,
    /// A `Real` recorded in an earlier gradient (or on another thread) was used in this one.
    Stale {
        /// The value of the stale `Real`.
        value: f64,
        /// Where it was used: the operation that read it, or the `backward` call it was given to.
        location: &'static Location<'static>,
    },
    /// A `Real` given to `backward` as a variable is not a leaf of this gradient's tape (it is a
    /// constant or the result of an operation).
    NotALeaf {
        /// Its position in the list of variables given to `backward`.
        position: usize,
        /// Its value.
        value: f64,
    },
    /// One gradient recorded more nodes than a `u32` can index.
    Full,
    /// The thread is exiting and its tape is already gone.
    Unavailable,
    /// The process has used up the node ids (2^64, reserved by threads 2^34 at a time).
    Exhausted,
}

impl fmt::Display for TapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TapeError::Nested => f.write_str(
                "cannot start a gradient while another one is being taken on this thread \
                 (nested gradients are not supported)",
            ),
            TapeError::Stale { value, location } => write!(
                f,
                "a Real from an earlier gradient (value {value}) was used at {location}; a Real \
                 that depends on a gradient's variables is valid only while that gradient is taken"
            ),
            TapeError::NotALeaf { position, value } => write!(
                f,
                "variable {position} (value {value}) given to backward is not a leaf of this \
                 gradient's tape (make variables with Tape::leaf)"
            ),
            TapeError::Full => write!(
                f,
                "the gradient tape is full: one gradient recorded more than {} nodes",
                u32::MAX
            ),
            TapeError::Exhausted => f.write_str(
                "cannot start a gradient: this process has used up the ids of gradient nodes",
            ),
            TapeError::Unavailable => f.write_str(
                "cannot take a gradient: this thread's tape is gone (the thread is exiting)",
            ),
        }
    }
}

impl std::error::Error for TapeError {}
