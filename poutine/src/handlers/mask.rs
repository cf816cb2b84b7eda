//! `mask`: switch off the log-probability of sites, wholly or per batch element.

use crate::error::PyroError;
use crate::model::{Handled, Handler};
use crate::runtime::Messenger;
use pyro_trace::Mask as SiteMask;
use pyro_trace::{Site, SiteKind};
use std::sync::Arc;

/// The `mask` handler: sets the `mask` of every message it sees, or logical-ands it with the mask
/// the message already has (so nested masks combine). Masked-out sites and batch elements
/// contribute exactly 0 to the log-probability of a trace, even where the raw density is NaN or
/// `-inf`.
///
/// The mask is one flag for the whole site (`Mask::new(false)`) or one flag per batch element
/// (`Mask::new(vec![true, false, ...])`); a per-element mask on a batched sample site must have
/// the site's batch length.
///
/// ```
/// use pyro_poutine::{Handler, Mask, PyroError, SiteMask, Tracer, mask, observe, sample, trace};
/// use pyro_poutine::distributions::{Batched, Normal};
///
/// fn model(ys: Vec<f64>) -> Result<f64, PyroError> {
///     let x = sample("x", Normal::new(0.0, 1.0))?;
///     observe("ys", Batched::iid(Normal::new(x, 1.0)?, ys.len()), ys)?;
///     Ok(x)
/// }
/// // Around a model: the whole of every site is masked out.
/// let tr = trace(mask(model, false)).get_trace(vec![0.1, 0.2])?;
/// assert_eq!(tr.get("x").unwrap().mask, Some(SiteMask::All(false)));
/// // Around a closure, per element: only the second observation counts.
/// let (_, tr) = Tracer::record(|| {
///     Mask::new(vec![false, true]).run(|| {
///         observe("ys", Batched::iid(Normal::new(0.0, 1.0)?, 2), vec![9.0, 0.2])
///     })
/// })?;
/// assert_eq!(tr.get("ys").unwrap().mask, Some(SiteMask::Elements(vec![false, true].into())));
/// # Ok::<(), PyroError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Mask {
    mask: SiteMask,
}

impl Mask {
    /// A mask handler from a flag for whole sites or a per-element mask (`bool`, `Vec<bool>`,
    /// `&[bool]`, `[bool; N]`, `Arc<[bool]>` or a site mask).
    pub fn new(mask: impl Into<Mask>) -> Self {
        mask.into()
    }

    /// The mask this handler applies.
    pub fn mask(&self) -> &SiteMask {
        &self.mask
    }
}

impl From<SiteMask> for Mask {
    fn from(mask: SiteMask) -> Self {
        Mask { mask }
    }
}

impl From<bool> for Mask {
    fn from(flag: bool) -> Self {
        SiteMask::All(flag).into()
    }
}

impl From<Arc<[bool]>> for Mask {
    fn from(flags: Arc<[bool]>) -> Self {
        SiteMask::Elements(flags).into()
    }
}

impl From<Vec<bool>> for Mask {
    fn from(flags: Vec<bool>) -> Self {
        Arc::<[bool]>::from(flags).into()
    }
}

impl From<&[bool]> for Mask {
    fn from(flags: &[bool]) -> Self {
        Arc::<[bool]>::from(flags).into()
    }
}

impl<const N: usize> From<[bool; N]> for Mask {
    fn from(flags: [bool; N]) -> Self {
        Arc::<[bool]>::from(flags).into()
    }
}

impl Messenger for Mask {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        if let SiteMask::Elements(flags) = &self.mask
            && msg.kind == SiteKind::Sample
            && let Some(n) = msg.dist.as_ref().and_then(|d| d.batch_len())
            && n != flags.len()
        {
            return Err(PyroError::invalid(
                "mask",
                format!(
                    "site '{}' has {n} batch elements but the mask has {}",
                    msg.name,
                    flags.len()
                ),
            ));
        }
        msg.mask = Some(match msg.mask.take() {
            None => self.mask.clone(),
            Some(old) => old.and(&self.mask),
        });
        Ok(())
    }
}

/// Wraps `model` in a [`Mask`] handler: a `bool` for whole sites or a per-element mask.
pub fn mask<M>(model: M, mask: impl Into<Mask>) -> Handled<M, Mask> {
    Mask::new(mask).wrap(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::{Batched, Constraint, Normal};
    use crate::{Model, Tracer, observe, param, sample, stack_depth, trace};

    fn elements(v: &[bool]) -> SiteMask {
        SiteMask::Elements(v.into())
    }

    fn batched(ys: Vec<f64>) -> Result<(), PyroError> {
        let x = sample("x", Normal::new(0.0, 1.0))?;
        observe("ys", Batched::iid(Normal::new(x, 1.0)?, ys.len()), ys)?;
        Ok(())
    }

    #[test]
    fn sets_the_mask_of_every_site_kind() {
        let m = |()| -> Result<(), PyroError> {
            sample("x", Normal::new(0.0, 1.0))?;
            observe("y", Normal::new(0.0, 1.0), 0.3)?;
            param("mask_test_param_p", 1.0, Constraint::Real)?;
            Ok(())
        };
        let tr = trace(mask(m, false)).get_trace(()).unwrap();
        for name in ["x", "y", "mask_test_param_p"] {
            assert_eq!(tr.get(name).unwrap().mask, Some(SiteMask::All(false)));
        }
        let tr = trace(mask(m, true)).get_trace(()).unwrap();
        assert_eq!(tr.get("x").unwrap().mask, Some(SiteMask::All(true)));
        // Unmasked runs leave the mask unset.
        let tr = trace(m).get_trace(()).unwrap();
        assert_eq!(tr.get("x").unwrap().mask, None);
    }

    #[test]
    fn masked_value_is_unchanged() {
        let obs = observe_under_mask(false);
        assert_eq!(obs, 0.3);
    }

    fn observe_under_mask(flag: bool) -> f64 {
        Mask::new(flag)
            .run(|| observe("y", Normal::new(0.0, 1.0), 0.3))
            .unwrap()
    }

    #[test]
    fn nested_masks_are_anded() {
        let m = mask(mask(batched, [true, true, false]), vec![true, false, true]);
        let tr = trace(m).get_trace(vec![0.0, 1.0, 2.0]).unwrap();
        assert_eq!(
            tr.get("ys").unwrap().mask,
            Some(elements(&[true, false, false]))
        );
        let m = mask(mask(batched, [true, false, true]), true);
        let tr = trace(m).get_trace(vec![0.0, 1.0, 2.0]).unwrap();
        assert_eq!(
            tr.get("ys").unwrap().mask,
            Some(elements(&[true, false, true]))
        );
        let m = mask(mask(batched, [true, false, true]), false);
        let tr = trace(m).get_trace(vec![0.0, 1.0, 2.0]).unwrap();
        assert_eq!(tr.get("ys").unwrap().mask, Some(SiteMask::All(false)));
        let m = mask(mask(|()| batched(vec![1.0]), false), true);
        let tr = trace(m).get_trace(()).unwrap();
        assert_eq!(tr.get("x").unwrap().mask, Some(SiteMask::All(false)));
    }

    #[test]
    fn element_mask_applies_to_unbatched_sites_unchecked() {
        // The latent `x` is not batched: the element mask is recorded as given; scoring decides.
        let tr = trace(mask(batched, vec![true, false]))
            .get_trace(vec![0.0, 1.0])
            .unwrap();
        assert_eq!(tr.get("x").unwrap().mask, Some(elements(&[true, false])));
    }

    #[test]
    fn masked_out_elements_would_score_zero() {
        // The scores a consumer computes from the recorded mask.
        let tr = trace(mask(batched, vec![false, true]))
            .get_trace(vec![f64::NAN, 0.5])
            .unwrap();
        let site = tr.get("ys").unwrap();
        let lps = site
            .dist
            .as_ref()
            .unwrap()
            .log_prob_elements(site.value.as_ref().unwrap())
            .unwrap();
        let Some(SiteMask::Elements(flags)) = &site.mask else {
            panic!("element mask expected")
        };
        let total: f64 = lps
            .iter()
            .zip(flags.iter())
            .map(|(lp, keep)| if *keep { *lp } else { 0.0 })
            .sum();
        assert!(!lps[0].is_finite());
        assert!(total.is_finite());
    }

    #[test]
    fn wrong_length_on_a_batched_site_is_an_error() {
        let m = mask(batched, vec![true, false]);
        let err = m.call(vec![0.0, 1.0, 2.0]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mask: site 'ys' has 3 batch elements but the mask has 2"
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
    fn inner_trace_sees_outer_mask_and_conversions() {
        let (_, (tracer, r)) = crate::with_handler(Mask::new(&[false][..]), || {
            crate::with_handler(Tracer::new(), || sample("z", Normal::new(0.0, 1.0)))
        });
        assert!(r.is_ok());
        assert_eq!(
            tracer.into_trace().get("z").unwrap().mask,
            Some(elements(&[false]))
        );
        assert_eq!(Mask::new(SiteMask::All(true)).mask(), &SiteMask::All(true));
        assert_eq!(
            Mask::new(Arc::<[bool]>::from(vec![true])),
            Mask::new([true])
        );
    }
}
