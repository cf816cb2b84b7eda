//! Code shared by the integration tests (and the `linreg_grad` example).

pub mod linreg;
