//! One file per effect handler.

pub mod escape;
pub mod infer_config;
pub mod intervene;
pub mod lift;
pub mod mask;
pub mod scale;
pub mod seed;
pub mod trace;
