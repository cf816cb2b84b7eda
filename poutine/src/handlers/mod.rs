//! One file per effect handler.

pub mod block;
pub mod condition;
pub mod escape;
pub mod infer_config;
pub mod intervene;
pub mod lift;
pub mod mask;
pub mod replay;
pub mod scale;
pub mod seed;
pub mod substitute;
pub mod trace;
pub mod uncondition;
pub mod weigher;
