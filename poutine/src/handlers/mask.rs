//! `mask`: switch off the log-probability of sites, wholly or per batch element.

use crate::error::PyroError;
use crate::model::{Handled, Handler, IntoModel};
use crate::runtime::Messenger;
use pyro_trace::Mask;
use pyro_trace::{Site, SiteKind};
use std::sync::Arc;

/// The `mask` handler: sets the `mask` of every message it sees, or logical-ands it with the mask
/// the message already has (so nested masks combine). Masked-out sites and batch elements
/// contribute exactly 0 to the log-probability of a trace, even where the raw density is NaN or
/// `-inf`.
///
/// The mask is one flag for the whole site (`MaskMessenger::new(false)`) or one flag per batch element
/// (`MaskMessenger::new(vec![true, false, ...])`). A per-element mask must have one flag per batch element
/// of each sample site it reaches (one flag for an unbatched site), else the site is an error;
/// it leaves the index sites of subsampled plates alone (they score 0 anyway).
///
/// ```
/// use pyro_poutine::{Handler, MaskMessenger, PyroError, Mask, TraceMessenger, mask, observe, sample, trace};
/// use pyro_poutine::distributions::{Batched, Normal, Real};
///
/// fn model(ys: Vec<f64>) -> Result<Real, PyroError> {
///     let x = sample("x", Normal::new(0.0, 1.0))?;
///     observe("ys", Batched::iid(Normal::new(x, 1.0)?, ys.len()), ys)?;
///     Ok(x)
/// }
/// // Around a model: the whole of every site is masked out.
/// let tr = trace(mask(model, false)).get_trace(vec![0.1, 0.2])?;
/// assert_eq!(tr.get("x").unwrap().mask, Some(Mask::All(false)));
/// // Around a closure, per element: only the second observation counts.
/// let (_, tr) = TraceMessenger::record(|| {
///     MaskMessenger::new(vec![false, true]).run(|| {
///         observe("ys", Batched::iid(Normal::new(0.0, 1.0)?, 2), vec![9.0, 0.2])
///     })
/// })?;
/// assert_eq!(tr.get("ys").unwrap().mask, Some(Mask::Elements(vec![false, true].into())));
/// # Ok::<(), PyroError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MaskMessenger {
    mask: Mask,
}

impl MaskMessenger {
    /// A mask handler from a flag for whole sites or a per-element mask (`bool`, `Vec<bool>`,
    /// `&[bool]`, `[bool; N]`, `Arc<[bool]>` or a site mask).
    pub fn new(mask: impl Into<MaskMessenger>) -> Self {
        mask.into()
    }

    /// The mask this handler applies.
    pub fn mask(&self) -> &Mask {
        &self.mask
    }
}

impl From<Mask> for MaskMessenger {
    fn from(mask: Mask) -> Self {
        MaskMessenger { mask }
    }
}

impl From<bool> for MaskMessenger {
    fn from(flag: bool) -> Self {
        Mask::All(flag).into()
    }
}

impl From<Arc<[bool]>> for MaskMessenger {
    fn from(flags: Arc<[bool]>) -> Self {
        Mask::Elements(flags).into()
    }
}

impl From<Vec<bool>> for MaskMessenger {
    fn from(flags: Vec<bool>) -> Self {
        Arc::<[bool]>::from(flags).into()
    }
}

impl From<&[bool]> for MaskMessenger {
    fn from(flags: &[bool]) -> Self {
        Arc::<[bool]>::from(flags).into()
    }
}

impl<const N: usize> From<[bool; N]> for MaskMessenger {
    fn from(flags: [bool; N]) -> Self {
        Arc::<[bool]>::from(flags).into()
    }
}

impl Messenger for MaskMessenger {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        if let Mask::Elements(flags) = &self.mask
            && msg.kind == SiteKind::Sample
        {
            if msg.is_subsample() {
                // A plate's index site scores 0 whatever the mask; it has no batch to mask.
                return Ok(());
            }
            let batch = msg.dist.as_ref().and_then(|d| d.batch_len());
            if batch.unwrap_or(1) != flags.len() {
                let what = match batch {
                    Some(n) => format!("has {n} batch elements"),
                    None => "is not batched".to_string(),
                };
                return Err(PyroError::invalid(
                    "mask",
                    format!(
                        "site '{}' {what} but the mask has {} elements",
                        msg.name,
                        flags.len()
                    ),
                ));
            }
        }
        msg.mask = Some(match msg.mask.take() {
            None => self.mask.clone(),
            Some(old) => old.and(&self.mask),
        });
        Ok(())
    }
}

/// Wraps `model` in a [`MaskMessenger`] handler: a `bool` for whole sites or a per-element mask.
pub fn mask<M: IntoModel<Mk>, Mk>(
    model: M,
    mask: impl Into<MaskMessenger>,
) -> Handled<M::Model, MaskMessenger> {
    MaskMessenger::new(mask).wrap(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::{Batched, Constraint, Distribution, Normal, Real};
    use crate::{Model, Plate, TraceMessenger, observe, param, sample, stack_depth, trace};

    fn elements(v: &[bool]) -> Mask {
        Mask::Elements(v.into())
    }

    /// One batched observed site.
    fn batched(ys: Vec<f64>) -> Result<(), PyroError> {
        observe("ys", Batched::iid(Normal::new(0.0, 1.0)?, ys.len()), ys)?;
        Ok(())
    }

    fn model(_: ()) -> Result<(), PyroError> {
        sample("x", Normal::new(0.0, 1.0))?;
        observe("y", Normal::new(0.0, 1.0), 0.3)?;
        param("mask_test_param_p", 1.0, Constraint::Real)?;
        Ok(())
    }

    #[test]
    fn sets_the_mask_of_every_site_kind() {
        let tr = trace(mask(model, false)).get_trace(()).unwrap();
        for name in ["x", "y", "mask_test_param_p"] {
            assert_eq!(tr.get(name).unwrap().mask, Some(Mask::All(false)));
        }
        let tr = trace(mask(model, true)).get_trace(()).unwrap();
        assert_eq!(tr.get("x").unwrap().mask, Some(Mask::All(true)));
        // Unmasked runs leave the mask unset.
        let tr = trace(model).get_trace(()).unwrap();
        assert_eq!(tr.get("x").unwrap().mask, None);
    }

    #[test]
    fn masked_sites_score_exactly_zero() {
        let tr = trace(mask(model, false)).get_trace(()).unwrap();
        assert_eq!(tr.log_prob_sum(|_| true).unwrap(), 0.0);
        let tr = trace(mask(model, true)).get_trace(()).unwrap();
        assert!(tr.log_prob_sum(|_| true).unwrap() < 0.0);
        // Even a NaN observation.
        let nan = |()| observe("n", Normal::new(0.0, 1.0), f64::NAN);
        let tr = trace(mask(nan, false)).get_trace(()).unwrap();
        assert_eq!(tr.log_prob_sum(|_| true).unwrap(), 0.0);
        let unmasked = trace(nan).get_trace(()).unwrap().log_prob_sum(|_| true);
        assert!(unmasked.map_or(true, |lp| !lp.is_finite()));
        // The value is unchanged.
        let y = MaskMessenger::new(false)
            .run(|| observe("y", Normal::new(0.0, 1.0), 0.3))
            .unwrap();
        assert_eq!(y, 0.3);
    }

    #[test]
    fn masked_out_elements_score_zero() {
        let d = Normal::new(0.0, 1.0).unwrap();
        let tr = trace(mask(batched, vec![false, true, true]))
            .get_trace(vec![f64::NAN, 0.5, -1.0])
            .unwrap();
        let expected = d.log_prob(&Real::from(0.5)) + d.log_prob(&Real::from(-1.0));
        assert!((tr.log_prob_sum(|_| true).unwrap() - expected).abs() < 1e-12);
    }

    #[test]
    fn nested_masks_are_anded() {
        let ys = vec![0.0, 1.0, 2.0];
        let m = mask(mask(batched, [true, true, false]), vec![true, false, true]);
        let tr = trace(m).get_trace(ys.clone()).unwrap();
        assert_eq!(
            tr.get("ys").unwrap().mask,
            Some(elements(&[true, false, false]))
        );
        let m = mask(mask(batched, [true, false, true]), true);
        let tr = trace(m).get_trace(ys.clone()).unwrap();
        assert_eq!(
            tr.get("ys").unwrap().mask,
            Some(elements(&[true, false, true]))
        );
        let m = mask(mask(batched, [true, false, true]), false);
        let tr = trace(m).get_trace(ys).unwrap();
        assert_eq!(tr.get("ys").unwrap().mask, Some(Mask::All(false)));
        let tr = trace(mask(mask(model, false), true)).get_trace(()).unwrap();
        assert_eq!(tr.get("x").unwrap().mask, Some(Mask::All(false)));
    }

    #[test]
    fn element_masks_and_unbatched_sites() {
        // One flag fits an unbatched site; params have no batch and take any mask.
        let tr = trace(mask(model, [false])).get_trace(()).unwrap();
        assert_eq!(tr.get("x").unwrap().mask, Some(elements(&[false])));
        assert_eq!(tr.log_prob_sum(|_| true).unwrap(), 0.0);
        let p = |()| param("mask_test_param_q", 1.0, Constraint::Real);
        let tr = trace(mask(p, [true, false])).get_trace(()).unwrap();
        assert_eq!(
            tr.get("mask_test_param_q").unwrap().mask,
            Some(elements(&[true, false]))
        );
        // More flags do not.
        let err = mask(model, [true, false]).call(()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mask: site 'x' is not batched but the mask has 2 elements"
        );
        assert_eq!(stack_depth(), 0);
    }

    #[test]
    fn wrong_length_on_a_batched_site_is_an_error() {
        let m = mask(batched, vec![true, false]);
        let err = m.call(vec![0.0, 1.0, 2.0]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mask: site 'ys' has 3 batch elements but the mask has 2 elements"
        );
        assert_eq!(stack_depth(), 0);
        let err = trace(m).get_trace(vec![0.0]).unwrap_err();
        assert!(matches!(
            err,
            PyroError::InvalidHandler {
                handler: "mask",
                ..
            }
        ));
        assert_eq!(stack_depth(), 0);
    }

    #[test]
    fn element_mask_around_a_subsampled_plate() {
        let data = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let m = |()| {
            Plate::new("data", data.len()).subsample_size(2).run(|idx| {
                let ys: Vec<f64> = idx.iter().map(|i| data[i]).collect();
                batched(ys)
            })
        };
        let tr = trace(mask(m, [true, false])).get_trace(()).unwrap();
        assert_eq!(tr.get("data").unwrap().mask, None);
        let ys = tr.get("ys").unwrap();
        assert_eq!(ys.mask, Some(elements(&[true, false])));
        assert_eq!(ys.scale, 3.0);
        assert!(tr.log_prob_sum(|_| true).unwrap().is_finite());
    }

    #[test]
    fn inner_trace_sees_outer_mask_and_conversions() {
        let (_, (tracer, r)) = crate::with_handler(MaskMessenger::new(&[false][..]), || {
            crate::with_handler(TraceMessenger::new(), || sample("z", Normal::new(0.0, 1.0)))
        });
        assert!(r.is_ok());
        assert_eq!(
            tracer.into_trace().get("z").unwrap().mask,
            Some(elements(&[false]))
        );
        assert_eq!(MaskMessenger::new(Mask::All(true)).mask(), &Mask::All(true));
        assert_eq!(
            MaskMessenger::new(Arc::<[bool]>::from(vec![true])),
            MaskMessenger::new([true])
        );
    }
}
