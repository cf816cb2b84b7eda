//! Helpers of reparameterised sampling ([`Distribution::rsample`](crate::Distribution::rsample)):
//! the one draw formula of a family runs on its parameters as they are (for `rsample`, so that a
//! gradient flows to those that are tracked) or on their values (for `sample`, which records
//! nothing on the tape).

use pyro_tape::Real;

/// `x` as a constant: its value without its tape slot. `sample` passes its parameters through
/// this to the formula `rsample` shares, so that it records nothing while a gradient is taken.
#[inline]
pub(crate) fn detach(x: Real) -> Real {
    Real::constant(x.value())
}

/// `x` clamped into `[low, high]`, as a draw is clamped: `x` itself inside (its gradient flows),
/// the constant bound outside (the gradient of a clamped draw is 0, as torch's `clamp` has it).
/// NaN stays NaN, a constant.
#[inline]
pub(crate) fn clamp(x: Real, low: f64, high: f64) -> Real {
    let v = x.value();
    if (low..=high).contains(&v) {
        x
    } else {
        Real::constant(v.clamp(low, high))
    }
}

/// The draw of value `value` as a function of the shape parameter `shape` alone, with the
/// implicit reparameterisation gradient `dx_dshape()` (called only where the shape is tracked):
/// one tape node, or a constant.
#[inline]
pub(crate) fn implicit(value: f64, shape: Real, dx_dshape: impl FnOnce() -> f64) -> Real {
    if shape.is_constant() {
        Real::constant(value)
    } else {
        Real::record(value, &[(shape, dx_dshape())])
    }
}
