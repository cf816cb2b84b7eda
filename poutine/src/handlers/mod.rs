//! One file per effect handler.

pub mod block;
pub mod condition;
pub mod replay;
pub mod substitute;
pub mod trace;
pub mod uncondition;
