//! One file per effect handler.

pub mod trace;
