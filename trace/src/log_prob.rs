//! Scoring: the scaled, masked log-probability of a site and of a trace.

use crate::error::TraceError;
use crate::name::Name;
use crate::site::{Mask, Site, SiteKind};
use crate::trace::Trace;
use pyro_distributions::{AnyDistribution, Real, Value};
use pyro_tape::Tape;

impl Site {
    /// The scaled, masked log-probability of the site:
    /// `scale * sum over elements of (mask ? log_prob_element : 0)`.
    ///
    /// - A param site scores 0.
    /// - A cached value (from [`Trace::compute_log_prob`], or restored from JSON) is returned as
    ///   is.
    /// - `Mask::All(false)` gives exactly 0 without scoring; an element whose mask is `false`
    ///   contributes exactly 0 even when its density is NaN or `-inf`.
    /// - An element mask must have one flag per batch element (one flag for an unbatched site).
    ///
    /// A value of the wrong type for the distribution scores `-inf`, as
    /// [`AnyDistribution::log_prob`] does.
    ///
    /// # Errors
    /// [`TraceError::LogProb`], naming the site, for a sample site without a value or a
    /// distribution, an element mask of the wrong length, or a NaN result (a NaN density on an
    /// unmasked element, or a NaN scale).
    ///
    /// ```
    /// use pyro_trace::distributions::{Batched, Distribution, Normal, Real, Value};
    /// use pyro_trace::{Mask, Name, Site};
    ///
    /// let d = Normal::new(0.0, 1.0)?;
    /// let mut y = Site::observed(
    ///     Name::from("y"),
    ///     Batched::iid(d, 3)?.into(),
    ///     Value::Reals(vec![0.0, 1.0, f64::NAN]),
    /// );
    /// y.scale = 2.0;
    /// y.mask = Some(Mask::Elements(vec![true, true, false].into()));
    /// // The masked-out element (a NaN value, density -inf) contributes exactly 0.
    /// let expected = 2.0 * (d.log_prob(&Real::from(0.0)) + d.log_prob(&Real::from(1.0)));
    /// assert_eq!(y.log_prob_sum()?, expected);
    ///
    /// y.mask = Some(Mask::Elements(vec![true, false].into()));
    /// let err = y.log_prob_sum().unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "Error while computing log_prob at site 'y': the mask has 2 elements but the batch has 3"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn log_prob_sum(&self) -> Result<f64, TraceError> {
        match self.log_prob {
            Some(lp) if lp.is_nan() => Err(self.log_prob_error("the cached log_prob is NaN")),
            Some(lp) => Ok(lp),
            None => self.score(),
        }
    }

    /// Scores the site, ignoring any cache.
    fn score(&self) -> Result<f64, TraceError> {
        self.log_prob_real().map(Real::value)
    }

    /// The scaled, masked log-probability of the site as a tape [`Real`], ignoring any cache:
    /// the one scoring rule, of which [`log_prob_sum`](Site::log_prob_sum) is the value. While
    /// a gradient is being taken, the site's distribution records its log-density as one tape
    /// node ([`AnyDistribution::log_prob_real`], with the value's tape `Real`s in
    /// [`tracked`](Site::tracked)), so that the gradient flows to the value and to the
    /// parameters; otherwise the result is a constant.
    ///
    /// # Errors
    /// Those of [`log_prob_sum`](Site::log_prob_sum); also an element mask on a site through
    /// which a gradient flows, which is not supported yet (mask the whole site, or split it).
    pub fn log_prob_real(&self) -> Result<Real, TraceError> {
        if self.kind == SiteKind::Param {
            return Ok(Real::constant(0.0));
        }
        let element_mask = match &self.mask {
            Some(Mask::All(false)) => return Ok(Real::constant(0.0)),
            Some(Mask::All(true)) | None => None,
            Some(Mask::Elements(mask)) => Some(mask),
        };
        let dist = self
            .dist
            .as_ref()
            .ok_or_else(|| self.log_prob_error("the sample site has no distribution"))?;
        let value = self
            .value
            .as_ref()
            .ok_or_else(|| self.log_prob_error("the sample site has no value"))?;
        let lp = match element_mask {
            None => {
                let lp = dist.log_prob_real(value, &self.tracked);
                TraceError::check_log_prob(&self.name, lp.value())?;
                lp
            }
            Some(mask) => {
                let sum = self.masked_sum(dist, value, mask)?;
                // Only while a gradient is being taken can one flow through the site.
                if Tape::is_recording() && !dist.log_prob_real(value, &self.tracked).is_constant() {
                    return Err(self.log_prob_error(
                        "an element mask on a site through which a gradient flows is not \
                         supported yet (mask the whole site, or split it)",
                    ));
                }
                Real::constant(sum)
            }
        };
        TraceError::check_support(&self.name, lp.value(), element_mask.map(|m| &m[..]), || {
            (dist.clone(), value.clone())
        })?;
        let total = TraceError::check_scaled(&self.name, self.scale, lp.value())?;
        Ok(if lp.is_constant() {
            Real::constant(total)
        } else if self.scale == 1.0 {
            lp
        } else {
            lp * self.scale
        })
    }

    /// The sum of the log-probabilities of the elements whose mask is `true`.
    fn masked_sum(
        &self,
        dist: &AnyDistribution,
        value: &Value,
        mask: &[bool],
    ) -> Result<f64, TraceError> {
        let batch = dist.batch_len();
        let expected = batch.unwrap_or(1);
        if mask.len() != expected {
            return Err(self.log_prob_error(format!(
                "the mask has {} elements but the batch has {expected}",
                mask.len()
            )));
        }
        if batch.is_none() {
            // One element: no per-element vector needed.
            if !mask[0] {
                return Ok(0.0);
            }
            return TraceError::check_log_prob(&self.name, dist.log_prob(value));
        }
        let Some(elements) = dist.log_prob_elements(value) else {
            // A value of the wrong type scores -inf on every element.
            let any = mask.iter().any(|&keep| keep);
            return Ok(if any { f64::NEG_INFINITY } else { 0.0 });
        };
        if elements.len() != expected {
            return Err(self.log_prob_error(format!(
                "the distribution gave {} element log-probabilities for a batch of {expected}",
                elements.len()
            )));
        }
        let mut sum = 0.0;
        for (i, (&lp, &keep)) in elements.iter().zip(mask).enumerate() {
            if keep {
                if lp.is_nan() {
                    return Err(self.log_prob_error(format!("log_prob of element {i} is NaN")));
                }
                sum += lp;
            }
        }
        Ok(sum)
    }

    /// The log-probability a JSON record keeps: the score, or NaN where scoring failed only
    /// because the density is NaN (so that the restored site fails alike); `None` for a param
    /// site or a site that cannot be scored at all (no value, no distribution, a mask of the
    /// wrong length).
    pub(crate) fn recorded_log_prob(&self) -> Option<f64> {
        if self.kind == SiteKind::Param {
            return None;
        }
        match self.log_prob_sum() {
            Ok(lp) => Some(lp),
            Err(_) if self.log_prob.is_some_and(f64::is_nan) => Some(f64::NAN),
            Err(_) => {
                let (dist, _) = (self.dist.as_ref()?, self.value.as_ref()?);
                let fits = match &self.mask {
                    Some(Mask::Elements(mask)) => mask.len() == dist.batch_len().unwrap_or(1),
                    _ => true,
                };
                fits.then_some(f64::NAN)
            }
        }
    }

    fn log_prob_error(&self, reason: impl Into<String>) -> TraceError {
        TraceError::LogProb {
            name: self.name.clone(),
            reason: reason.into(),
        }
    }
}

impl Trace {
    /// Computes and caches the log-probability of every sample site that passes `filter` and has
    /// no cache yet. Caches are cleared by [`Trace::get_mut`], so they can never go stale.
    ///
    /// # Errors
    /// The first site that fails to score (see [`Site::log_prob_sum`]); the sites before it keep
    /// their caches.
    ///
    /// ```
    /// use pyro_trace::distributions::{Distribution, Normal, Real, Value};
    /// use pyro_trace::{Name, Site, Trace};
    ///
    /// let d = Normal::new(0.0, 1.0)?;
    /// let mut trace = Trace::new();
    /// trace.add_node(Site::observed(Name::from("y"), d.into(), Value::Real(0.0)))?;
    /// trace.compute_log_prob(|_| true)?;
    /// assert_eq!(trace.get("y").unwrap().cached_log_prob(), Some(d.log_prob(&Real::from(0.0))));
    ///
    /// trace.get_mut("y").unwrap().value = Some(Value::Real(1.0)); // clears the cache
    /// assert_eq!(trace.get("y").unwrap().cached_log_prob(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compute_log_prob(
        &mut self,
        mut filter: impl FnMut(&Site) -> bool,
    ) -> Result<(), TraceError> {
        for site in self.nodes.values_mut() {
            if site.kind == SiteKind::Sample && site.log_prob.is_none() && filter(site) {
                site.log_prob = Some(site.score()?);
            }
        }
        Ok(())
    }

    /// The sum of the scaled, masked log-probabilities of the sample sites (latent and observed)
    /// that pass `filter`, using cached values where present; `0.0` when no site matches. Pass
    /// `|_| true` for the whole trace.
    ///
    /// Does not allocate for unbatched sites.
    ///
    /// # Errors
    /// The first site that fails to score, as [`TraceError::LogProb`] naming it (see
    /// [`Site::log_prob_sum`]); [`TraceError::InfiniteSum`] naming a site at `+inf` and one at
    /// `-inf` when the sum meets both (never a NaN sum).
    ///
    /// ```
    /// use pyro_trace::distributions::{Normal, Value};
    /// use pyro_trace::{Name, Site, Trace};
    ///
    /// let d = Normal::new(0.0, 1.0)?;
    /// let mut trace = Trace::new();
    /// let mut z = Site::sample(Name::from("z"), d.into());
    /// z.value = Some(Value::Real(0.5));
    /// trace.add_node(z)?;
    /// trace.add_node(Site::observed(Name::from("y"), d.into(), Value::Real(1.0)))?;
    ///
    /// let all = trace.log_prob_sum(|_| true)?;
    /// let observed = trace.log_prob_sum(|site| site.is_observed)?;
    /// let latent = trace.log_prob_sum(|site| !site.is_observed)?;
    /// assert_eq!(all, latent + observed);
    /// assert_eq!(trace.log_prob_sum(|site| site.name == "nothing")?, 0.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn log_prob_sum(&self, mut filter: impl FnMut(&Site) -> bool) -> Result<f64, TraceError> {
        let mut total = 0.0;
        for site in self.nodes.values() {
            if site.kind == SiteKind::Sample && filter(site) {
                total += site.log_prob_sum()?;
            }
        }
        if total.is_nan() {
            return Err(self.infinite_sum(filter));
        }
        Ok(total)
    }

    /// The error of a sum that met `+inf` and `-inf`: the first site at each (the sites scored
    /// without error, since the sum got to its end).
    #[cold]
    fn infinite_sum(&self, mut filter: impl FnMut(&Site) -> bool) -> TraceError {
        let mut first = |target: f64| {
            self.nodes
                .values()
                .find(|s| {
                    s.kind == SiteKind::Sample
                        && filter(s)
                        && s.log_prob_sum().is_ok_and(|lp| lp == target)
                })
                .map(|s| s.name.clone())
                .unwrap_or_else(|| Name::new("?"))
        };
        let plus = first(f64::INFINITY);
        TraceError::InfiniteSum {
            plus,
            minus: first(f64::NEG_INFINITY),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyro_distributions::{
        Batched, Bernoulli, Constraint, Distribution, Normal, ParamError, Rng,
    };

    /// The real score is the scaled, masked log-density with its gradient: the latent value's
    /// tape `Real` (in `tracked`) and the distribution's tracked parameter both get theirs.
    #[test]
    fn the_real_score_carries_the_gradient() -> Result<(), Box<dyn std::error::Error>> {
        let tape = pyro_tape::Tape::start()?;
        let (x, loc) = (tape.leaf(1.5), tape.leaf(0.5));
        let mut site = Site::sample(Name::from("x"), Normal::new(loc, 1.0)?.into());
        site.value = Some(Value::Real(1.5));
        site.tracked.push(x);
        site.scale = 2.0;
        let lp = site.log_prob_real()?;
        assert_eq!(lp.value(), site.log_prob_sum()?);
        // 2 ln N(x | loc, 1): d/dx = -2 (x - loc) = -2, d/dloc = 2.
        assert_eq!(tape.backward(lp, &[x, loc])?, vec![-2.0, 2.0]);
        site.mask = Some(Mask::All(false));
        assert_eq!(
            tape.backward(site.log_prob_real()?, &[x, loc])?,
            vec![0.0, 0.0]
        );
        // An element mask on a site with a gradient is refused, naming the site.
        let mut batch = Site::sample(
            Name::from("b"),
            AnyDistribution::custom(Batched::iid(Normal::new(loc, 1.0)?, 2)?),
        );
        batch.value = Some(Value::Reals(vec![0.0, 1.0]));
        batch.mask = Some(Mask::Elements(vec![true, false].into()));
        let err = batch.log_prob_real().unwrap_err();
        assert!(err.to_string().contains("site 'b'"), "{err}");
        // Without a gradient the element mask works as in `log_prob_sum`.
        batch.dist = Some(AnyDistribution::custom(Batched::iid(
            Normal::new(0.5, 1.0)?,
            2,
        )?));
        assert_eq!(batch.log_prob_real()?.value(), batch.log_prob_sum()?);
        Ok(())
    }

    /// `-x^2` except NaN at `nan_at`: a density that misbehaves on purpose.
    #[derive(Clone, Debug)]
    struct NanAt(f64);

    impl Distribution for NanAt {
        type Value = f64;
        type Moment = f64;
        fn family(&self) -> &'static str {
            "NanAt"
        }
        fn sample<R: Rng + ?Sized>(&self, _: &mut R) -> f64 {
            0.0
        }
        fn log_prob(&self, x: &f64) -> f64 {
            if *x == self.0 { f64::NAN } else { -x * x }
        }
        fn support(&self) -> Constraint {
            Constraint::Real
        }
        fn mean(&self) -> Option<f64> {
            None
        }
        fn variance(&self) -> Option<f64> {
            None
        }
    }

    /// Claims a batch of 2 but scores 3 elements.
    #[derive(Clone, Debug)]
    struct BadBatch;

    impl Distribution for BadBatch {
        type Value = Vec<f64>;
        type Moment = Vec<f64>;
        fn family(&self) -> &'static str {
            "BadBatch"
        }
        fn sample<R: Rng + ?Sized>(&self, _: &mut R) -> Vec<f64> {
            vec![0.0; 2]
        }
        fn log_prob(&self, _: &Vec<f64>) -> f64 {
            0.0
        }
        fn support(&self) -> Constraint {
            Constraint::RealVector
        }
        fn mean(&self) -> Option<Vec<f64>> {
            None
        }
        fn variance(&self) -> Option<Vec<f64>> {
            None
        }
        fn batch_len(&self) -> Option<usize> {
            Some(2)
        }
        fn log_prob_elements(&self, _: &Vec<f64>) -> Vec<f64> {
            vec![0.0; 3]
        }
    }

    fn normal() -> Normal {
        Normal::new(1.0, 2.0).unwrap()
    }

    fn latent(name: &'static str, dist: AnyDistribution, value: Value) -> Site {
        let mut site = Site::sample(Name::from(name), dist);
        site.value = Some(value);
        site
    }

    fn reason(err: TraceError) -> String {
        match err {
            TraceError::LogProb { reason, .. } => reason,
            other => panic!("expected a LogProb error, got {other:?}"),
        }
    }

    #[test]
    fn unmasked_site_is_scaled_log_prob() -> Result<(), ParamError> {
        let d = normal();
        let mut x = latent("x", d.into(), Value::Real(0.3));
        assert_eq!(x.log_prob_sum().unwrap(), d.log_prob(&Real::from(0.3)));
        x.scale = 2.5;
        assert_eq!(
            x.log_prob_sum().unwrap(),
            2.5 * d.log_prob(&Real::from(0.3))
        );
        x.mask = Some(Mask::All(true));
        assert_eq!(
            x.log_prob_sum().unwrap(),
            2.5 * d.log_prob(&Real::from(0.3))
        );
        let b = Bernoulli::new(0.25)?;
        let coin = Site::observed(Name::from("c"), b.into(), Value::Bool(true));
        assert_eq!(coin.log_prob_sum().unwrap(), 0.25_f64.ln());
        Ok(())
    }

    #[test]
    fn params_score_zero() {
        let w = Site::param(Name::from("w"), Some(Value::Real(f64::NAN)));
        assert_eq!(w.log_prob_sum().unwrap(), 0.0);
        assert_eq!(
            Site::param(Name::from("v"), None).log_prob_sum().unwrap(),
            0.0
        );
    }

    #[test]
    fn masked_out_site_is_exactly_zero() {
        for v in [f64::NAN, f64::NEG_INFINITY, 0.0] {
            let mut x = latent("x", AnyDistribution::custom(NanAt(v)), Value::Real(v));
            x.scale = 3.0;
            x.mask = Some(Mask::All(false));
            let lp = x.log_prob_sum().unwrap();
            assert_eq!(lp.to_bits(), 0.0_f64.to_bits(), "value {v}");
        }
        // Not even scored: no value needed.
        let mut pending = Site::sample(Name::from("p"), normal().into());
        pending.mask = Some(Mask::All(false));
        assert_eq!(pending.log_prob_sum().unwrap(), 0.0);
    }

    #[test]
    fn nan_on_an_unmasked_element_is_an_error() {
        let x = latent("x", AnyDistribution::custom(NanAt(0.5)), Value::Real(0.5));
        let err = x.log_prob_sum().unwrap_err();
        assert_eq!(
            err.to_string(),
            "Error while computing log_prob at site 'x': log_prob is NaN"
        );
        let mut y = x.clone();
        y.mask = Some(Mask::Elements(vec![true].into()));
        assert_eq!(reason(y.log_prob_sum().unwrap_err()), "log_prob is NaN");
        y.mask = Some(Mask::Elements(vec![false].into()));
        assert_eq!(y.log_prob_sum().unwrap(), 0.0);
    }

    #[test]
    fn element_masks_zero_their_elements() {
        let d = Batched::iid(NanAt(7.0), 4).unwrap();
        let value = Value::Reals(vec![1.0, 7.0, 2.0, 7.0]);
        let mut y = Site::observed(Name::indexed("y", 0), AnyDistribution::custom(d), value);
        y.scale = 0.5;
        y.mask = Some(Mask::Elements(vec![true, false, true, false].into()));
        assert_eq!(y.log_prob_sum().unwrap(), 0.5 * (-1.0 + -4.0));
        y.mask = Some(Mask::Elements(vec![true, true, true, false].into()));
        let err = y.log_prob_sum().unwrap_err();
        assert_eq!(
            err.to_string(),
            "Error while computing log_prob at site 'y_0': log_prob of element 1 is NaN"
        );
        y.mask = None;
        assert_eq!(reason(y.log_prob_sum().unwrap_err()), "log_prob is NaN");
    }

    #[test]
    fn element_masks_zero_minus_infinity() {
        let d = Batched::iid(normal(), 3).unwrap();
        let value = Value::Reals(vec![f64::NEG_INFINITY, 0.5, f64::NAN]);
        let mut y = Site::observed(Name::from("y"), d.into(), value);
        assert_eq!(y.log_prob_sum().unwrap(), f64::NEG_INFINITY);
        y.mask = Some(Mask::Elements(vec![false, true, false].into()));
        assert_eq!(
            y.log_prob_sum().unwrap(),
            normal().log_prob(&Real::from(0.5))
        );
        y.mask = Some(Mask::Elements(vec![false, false, false].into()));
        assert_eq!(y.log_prob_sum().unwrap(), 0.0);
    }

    #[test]
    fn mask_length_must_match_the_batch() {
        let d = Batched::iid(normal(), 3).unwrap();
        let mut y = Site::observed(Name::from("y"), d.into(), Value::Reals(vec![0.0; 3]));
        y.mask = Some(Mask::Elements(vec![true; 4].into()));
        assert_eq!(
            y.log_prob_sum().unwrap_err().to_string(),
            "Error while computing log_prob at site 'y': the mask has 4 elements but the batch has 3"
        );
        let mut x = latent("x", normal().into(), Value::Real(0.0));
        x.mask = Some(Mask::Elements(vec![true, true].into()));
        assert_eq!(
            reason(x.log_prob_sum().unwrap_err()),
            "the mask has 2 elements but the batch has 1"
        );
        let mut bad = latent(
            "b",
            AnyDistribution::custom(BadBatch),
            Value::Reals(vec![0.0; 2]),
        );
        bad.mask = Some(Mask::Elements(vec![true; 2].into()));
        assert_eq!(
            reason(bad.log_prob_sum().unwrap_err()),
            "the distribution gave 3 element log-probabilities for a batch of 2"
        );
    }

    #[test]
    fn wrong_value_types_score_minus_infinity() {
        let d = Batched::iid(normal(), 2).unwrap();
        let mut y = Site::observed(Name::from("y"), d.into(), Value::Bools(vec![true, false]));
        assert_eq!(y.log_prob_sum().unwrap(), f64::NEG_INFINITY);
        y.mask = Some(Mask::Elements(vec![false, true].into()));
        assert_eq!(y.log_prob_sum().unwrap(), f64::NEG_INFINITY);
        y.mask = Some(Mask::Elements(vec![false, false].into()));
        assert_eq!(y.log_prob_sum().unwrap(), 0.0);
    }

    #[test]
    fn missing_value_or_distribution_is_an_error() {
        let x = Site::sample(Name::from("x"), normal().into());
        assert_eq!(
            x.log_prob_sum().unwrap_err().to_string(),
            "Error while computing log_prob at site 'x': the sample site has no value"
        );
        let mut y = latent("y", normal().into(), Value::Real(0.0));
        y.dist = None;
        assert_eq!(
            reason(y.log_prob_sum().unwrap_err()),
            "the sample site has no distribution"
        );
    }

    #[test]
    fn nan_scale_is_an_error() {
        let mut x = latent("x", normal().into(), Value::Real(0.0));
        x.scale = f64::NAN;
        assert!(reason(x.log_prob_sum().unwrap_err()).ends_with("is NaN"));
        // Zero times -inf is NaN too.
        let mut y = latent("y", normal().into(), Value::Real(f64::INFINITY));
        y.scale = 0.0;
        assert_eq!(
            reason(y.log_prob_sum().unwrap_err()),
            "scale 0 times log_prob -inf is NaN"
        );
    }

    fn small_trace() -> Trace {
        let d = normal();
        let mut trace = Trace::new();
        trace
            .add_node(Site::param(Name::from("w"), Some(Value::Real(3.0))))
            .unwrap();
        trace
            .add_node(latent("z", d.into(), Value::Real(0.5)))
            .unwrap();
        let mut y = Site::observed(Name::from("y"), d.into(), Value::Real(2.0));
        y.scale = 10.0;
        trace.add_node(y).unwrap();
        trace
    }

    #[test]
    fn trace_sums_filtered_sample_sites() {
        let d = normal();
        let trace = small_trace();
        let z = d.log_prob(&Real::from(0.5));
        let y = 10.0 * d.log_prob(&Real::from(2.0));
        assert_eq!(trace.log_prob_sum(|_| true).unwrap(), z + y);
        assert_eq!(trace.log_prob_sum(|s| s.is_observed).unwrap(), y);
        assert_eq!(trace.log_prob_sum(|s| s.name == "z").unwrap(), z);
        // Params are never scored, even when the filter selects them.
        assert_eq!(trace.log_prob_sum(|s| s.name == "w").unwrap(), 0.0);
        assert_eq!(Trace::new().log_prob_sum(|_| true).unwrap(), 0.0);
    }

    #[test]
    fn a_sum_meeting_both_infinities_is_an_error_naming_both_sites() {
        use pyro_distributions::{Gamma, Uniform};
        let mut trace = Trace::new();
        // Gamma(0.5, 1) at 0 is +inf (the density's limit); Uniform(0, 1) at 2 is -inf.
        let plus = Gamma::new(0.5, 1.0).unwrap();
        assert_eq!(plus.log_prob(&Real::from(0.0)), f64::INFINITY);
        trace
            .add_node(Site::observed(
                Name::from("a"),
                plus.into(),
                Value::Real(0.0),
            ))
            .unwrap();
        trace
            .add_node(Site::observed(
                Name::from("b"),
                Uniform::new(0.0, 1.0).unwrap().into(),
                Value::Real(2.0),
            ))
            .unwrap();
        let err = trace.log_prob_sum(|_| true).unwrap_err();
        assert_eq!(
            err,
            TraceError::InfiniteSum {
                plus: Name::from("a"),
                minus: Name::from("b")
            }
        );
        assert_eq!(
            err.to_string(),
            "the log-probabilities sum +inf (site 'a') and -inf (site 'b'): the sum is undefined"
        );
        // Each infinity alone is a sum.
        assert_eq!(trace.log_prob_sum(|s| s.name == "a"), Ok(f64::INFINITY));
        assert_eq!(trace.log_prob_sum(|s| s.name == "b"), Ok(f64::NEG_INFINITY));
    }

    #[test]
    fn trace_errors_name_the_site() {
        let mut trace = small_trace();
        trace
            .add_node(Site::sample(Name::from("late"), normal().into()))
            .unwrap();
        let err = trace.log_prob_sum(|_| true).unwrap_err();
        assert_eq!(
            err,
            TraceError::LogProb {
                name: Name::from("late"),
                reason: "the sample site has no value".into()
            }
        );
        // Filtered out: no error.
        assert!(trace.log_prob_sum(|s| s.name != "late").is_ok());
        assert!(trace.compute_log_prob(|_| true).is_err());
        // The sites before the failing one were cached.
        assert!(trace.get("z").unwrap().cached_log_prob().is_some());
        assert!(trace.get("late").unwrap().cached_log_prob().is_none());
    }

    #[test]
    fn compute_log_prob_caches_filtered_sites() {
        let mut trace = small_trace();
        trace.compute_log_prob(|s| !s.is_observed).unwrap();
        assert_eq!(trace.get("w").unwrap().cached_log_prob(), None);
        assert_eq!(
            trace.get("z").unwrap().cached_log_prob(),
            Some(normal().log_prob(&Real::from(0.5)))
        );
        assert_eq!(trace.get("y").unwrap().cached_log_prob(), None);
        let before = trace.log_prob_sum(|_| true).unwrap();
        trace.compute_log_prob(|_| true).unwrap();
        assert_eq!(trace.log_prob_sum(|_| true).unwrap(), before);
    }

    #[test]
    fn caches_are_used_and_cleared_by_get_mut() {
        let mut trace = small_trace();
        trace.compute_log_prob(|_| true).unwrap();
        let cached = trace.log_prob_sum(|_| true).unwrap();
        // A cached site is not scored again: the cache is what the sum uses.
        trace.nodes.get_mut(&Name::from("z")).unwrap().log_prob = Some(-1.0);
        assert_eq!(trace.log_prob_sum(|s| s.name == "z").unwrap(), -1.0);
        trace.nodes.get_mut(&Name::from("z")).unwrap().log_prob =
            Some(normal().log_prob(&Real::from(0.5)));
        assert_eq!(trace.log_prob_sum(|_| true).unwrap(), cached);

        trace.get_mut("z").unwrap().value = Some(Value::Real(-3.0));
        assert_eq!(trace.get("z").unwrap().cached_log_prob(), None);
        assert_eq!(
            trace.get("y").unwrap().cached_log_prob(),
            Some(10.0 * normal().log_prob(&Real::from(2.0)))
        );
        let expected =
            normal().log_prob(&Real::from(-3.0)) + 10.0 * normal().log_prob(&Real::from(2.0));
        assert_eq!(trace.log_prob_sum(|_| true).unwrap(), expected);
        trace.get_mut("y").unwrap().scale = 1.0;
        assert_eq!(
            trace.log_prob_sum(|_| true).unwrap(),
            normal().log_prob(&Real::from(-3.0)) + normal().log_prob(&Real::from(2.0))
        );
    }

    #[test]
    fn a_cloned_site_leaves_the_cache_behind() {
        let mut trace = small_trace();
        trace.compute_log_prob(|_| true).unwrap();
        let mut z = trace.get("z").unwrap().clone();
        assert_eq!(z.cached_log_prob(), None);
        z.value = Some(Value::Real(4.0));
        assert_eq!(
            z.log_prob_sum().unwrap(),
            normal().log_prob(&Real::from(4.0))
        );
    }
}
