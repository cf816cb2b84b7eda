//! Sites taken directly: [`DirectSink`], [`DirectSite`] and [`DirectPlate`] (see
//! [`Messenger::direct`](crate::Messenger::direct)).

use crate::error::PyroError;
use crate::runtime::PyroRng;
use pyro_distributions::{AnyDistribution, Real, Value};
use pyro_trace::{DETERMINISTIC_FLAG, Frame, InferConfig, Name, SUBSAMPLE_FLAG, Site, TraceError};
use smallvec::SmallVec;

/// What a plate's handler does to the sample sites it encloses, for sites taken directly (see
/// [`Messenger::direct_plate`](crate::Messenger::direct_plate)).
pub trait DirectPlate {
    /// The frame the handler puts first in a message's `cond_indep_stack`.
    fn frame(&self) -> &Frame;
    /// The factor the handler multiplies a message's `scale` by.
    fn scale(&self) -> f64;
    /// The handler's `postprocess` check of a recorded site, whose enclosing vectorised plates
    /// have `batch` elements in all.
    fn check(&self, site: &dyn DirectSite, batch: usize) -> Result<(), PyroError>;
}

/// A sample site handed to a [`DirectSink`] instead of sent as a message: what the handler's
/// `postprocess` would have read from the message, computed only when asked for.
pub trait DirectSite {
    /// The site's name.
    fn name(&self) -> &Name;
    /// Whether the value was observed (else it was drawn from the sink's generator).
    fn is_observed(&self) -> bool;
    /// The unscaled, unmasked log-probability of the value (NaN is left for the sink to report).
    fn log_prob(&self) -> f64;
    /// [`log_prob`](DirectSite::log_prob) as a tape [`Real`], through which a gradient flows to
    /// the value and the distribution's parameters while one is being taken. Defaults to the
    /// constant `log_prob`.
    fn log_prob_real(&self) -> Real {
        Real::constant(self.log_prob())
    }
    /// The value, type-erased.
    fn value(&self) -> Value;
    /// The distribution, type-erased.
    fn distribution(&self) -> AnyDistribution;
    /// The site's `infer` configuration. Defaults to empty.
    fn infer(&self) -> InferConfig {
        InferConfig::default()
    }
    /// The number of batch elements of the distribution; `None` for a single draw. Defaults to
    /// the erased distribution's.
    fn batch_len(&self) -> Option<usize> {
        self.distribution().batch_len()
    }
    /// The factor the site's log-probability is scaled by (subsampling plates). Defaults to 1.
    fn scale(&self) -> f64 {
        1.0
    }
    /// The plates the site sits in, outermost first. Defaults to none.
    fn frames(&self) -> Vec<Frame> {
        Vec::new()
    }

    /// The scaled log-probability, checked as [`Site::log_prob_sum`] checks the message's.
    fn log_prob_sum(&self) -> Result<f64, TraceError> {
        self.log_prob_sum_real().map(Real::value)
    }

    /// [`log_prob_sum`](DirectSite::log_prob_sum) as a tape [`Real`]: the checks on
    /// [`log_prob_real`](DirectSite::log_prob_real), as [`Site::log_prob_real`] is of the
    /// message (one rule, of which `log_prob_sum` is the value).
    fn log_prob_sum_real(&self) -> Result<Real, TraceError> {
        let log_prob = self.log_prob_real();
        TraceError::check_log_prob(self.name(), log_prob.value())?;
        TraceError::check_support(self.name(), log_prob.value(), None, || {
            (self.distribution(), self.value())
        })?;
        let scaled = TraceError::check_scaled(self.name(), self.scale(), log_prob.value())?;
        Ok(if log_prob.is_constant() {
            Real::constant(scaled)
        } else if self.scale() == 1.0 {
            log_prob
        } else {
            log_prob * self.scale()
        })
    }

    /// The message the handler's `postprocess` would have been given: the site's message,
    /// stopped and done, with its value.
    fn message(&self) -> Site {
        let mut msg = if self.is_observed() {
            Site::observed(self.name().clone(), self.distribution(), self.value())
        } else {
            let mut msg = Site::sample(self.name().clone(), self.distribution());
            msg.value = Some(self.value());
            msg
        };
        msg.infer = self.infer();
        msg.scale = self.scale();
        msg.cond_indep_stack = self.frames();
        msg.stop = true;
        msg.done = true;
        msg
    }
}

/// A latent site's value supplied by a [`DirectSink`] instead of drawn: the value, and the same
/// value as tape [`Real`]s when a gradient flows through it (else empty), as a handler would set
/// a message's [`value`](Site::value) and [`tracked`](Site::tracked).
pub type Supplied = (Value, SmallVec<[Real; 1]>);

/// Where a handler takes sample sites directly (see
/// [`Messenger::direct`](crate::Messenger::direct)).
pub trait DirectSink {
    /// The generator latent values are drawn with: the handler's
    /// [`Messenger::rng`](crate::Messenger::rng).
    fn rng(&mut self) -> &mut PyroRng;

    /// The value of the latent site `name`, if the handler supplies it (as its `process` would
    /// set the message's value); `None` to draw it with [`rng`](DirectSink::rng). An error ends
    /// the run, as an error from `process` does. Defaults to `None`.
    fn supply(&mut self, name: &Name) -> Result<Option<Supplied>, PyroError> {
        let _ = name;
        Ok(None)
    }

    /// Records a sample site, as the handler's `postprocess` records the message of the same
    /// site. An error ends the run, as an error from `postprocess` does.
    fn record(&mut self, site: &dyn DirectSite) -> Result<(), PyroError>;
}

/// The number of elements a batched site must have inside plates with these frames: the
/// product of the vectorised plates' sizes.
pub(crate) fn vectorized_batch<'a>(frames: impl Iterator<Item = &'a Frame>) -> usize {
    frames
        .filter(|f| f.is_vectorized())
        .map(|f| f.size)
        .product()
}

/// A plate's check of a recorded sample site `site` whose distribution has `found` batch
/// elements (`None`: not batched) and whose `infer` configuration is `infer`: inside a vectorised
/// plate a site must have `batch` elements, the product of its enclosing vectorised plates'
/// sizes. (Pyro's plate broadcasts an unbatched distribution to the plate's size; a site that
/// silently stayed one draw would change the model's meaning.) A nested plate's index site and a
/// `deterministic` site are exempt: they score nothing.
pub(crate) fn check_batch(
    plate: &Frame,
    site: &Name,
    found: Option<usize>,
    batch: usize,
    infer: &InferConfig,
) -> Result<(), PyroError> {
    if !plate.is_vectorized() || found == Some(batch) {
        return Ok(());
    }
    if found.is_none() && (infer.flag(SUBSAMPLE_FLAG) || infer.flag(DETERMINISTIC_FLAG)) {
        return Ok(());
    }
    Err(PyroError::BatchLength {
        plate: plate.name.clone(),
        site: site.clone(),
        expected: batch,
        found,
    })
}

/// A sink that passes each site through plates' handlers (innermost first) to `sink`.
pub(crate) struct ThroughPlates<'a> {
    pub(crate) sink: &'a mut dyn DirectSink,
    pub(crate) plates: &'a [&'a dyn DirectPlate],
}

impl DirectSink for ThroughPlates<'_> {
    fn rng(&mut self) -> &mut PyroRng {
        self.sink.rng()
    }

    fn supply(&mut self, name: &Name) -> Result<Option<Supplied>, PyroError> {
        self.sink.supply(name)
    }

    /// Records the site as the message path would: the plates' frames and scales on the way
    /// in, the sink's record, then the plates' checks from the outermost in.
    fn record(&mut self, site: &dyn DirectSite) -> Result<(), PyroError> {
        let enclosed = Enclosed {
            site,
            plates: self.plates,
        };
        self.sink.record(&enclosed)?;
        let batch = vectorized_batch(self.plates.iter().map(|p| p.frame()));
        for plate in self.plates.iter().rev() {
            plate.check(&enclosed, batch)?;
        }
        Ok(())
    }
}

/// A site inside plates (innermost first).
struct Enclosed<'a> {
    site: &'a dyn DirectSite,
    plates: &'a [&'a dyn DirectPlate],
}

impl DirectSite for Enclosed<'_> {
    fn name(&self) -> &Name {
        self.site.name()
    }
    fn is_observed(&self) -> bool {
        self.site.is_observed()
    }
    fn log_prob(&self) -> f64 {
        self.site.log_prob()
    }
    fn log_prob_real(&self) -> Real {
        self.site.log_prob_real()
    }
    fn value(&self) -> Value {
        self.site.value()
    }
    fn distribution(&self) -> AnyDistribution {
        self.site.distribution()
    }
    fn infer(&self) -> InferConfig {
        self.site.infer()
    }
    fn batch_len(&self) -> Option<usize> {
        self.site.batch_len()
    }
    /// Multiplied by each plate's, innermost first, as the plates' handlers do to a message.
    fn scale(&self) -> f64 {
        self.plates
            .iter()
            .fold(self.site.scale(), |scale, p| scale * p.scale())
    }
    /// Each plate puts its frame first, innermost first: the outermost ends up first.
    fn frames(&self) -> Vec<Frame> {
        let mut frames: Vec<Frame> = self
            .plates
            .iter()
            .rev()
            .map(|p| p.frame().clone())
            .collect();
        frames.extend(self.site.frames());
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyro_distributions::{Distribution, Normal};
    use pyro_tape::Tape;

    /// A site of `Normal(loc, 1)` at 1.5, scaled by `scale`.
    struct Scaled {
        name: Name,
        dist: Normal,
        scale: f64,
    }

    impl DirectSite for Scaled {
        fn name(&self) -> &Name {
            &self.name
        }
        fn is_observed(&self) -> bool {
            true
        }
        fn log_prob(&self) -> f64 {
            self.dist.log_prob(&Real::from(1.5))
        }
        fn log_prob_real(&self) -> Real {
            self.dist.log_prob_real(&Real::from(1.5))
        }
        fn value(&self) -> Value {
            Value::Real(1.5)
        }
        fn distribution(&self) -> AnyDistribution {
            self.dist.into()
        }
        fn scale(&self) -> f64 {
            self.scale
        }
    }

    #[test]
    fn the_real_score_is_scaled_and_carries_the_gradient() -> Result<(), Box<dyn std::error::Error>>
    {
        let tape = Tape::start()?;
        let loc = tape.leaf(0.5);
        let site = Scaled {
            name: Name::from("y"),
            dist: Normal::new(loc, 1.0)?,
            scale: 3.0,
        };
        let lp = site.log_prob_sum_real()?;
        assert_eq!(lp.value(), site.log_prob_sum()?);
        assert_eq!(lp.value(), 3.0 * site.log_prob());
        // d/dloc of 3 ln N(1.5 | loc, 1) = 3 (1.5 - loc).
        assert_eq!(tape.backward(lp, &[loc])?, vec![3.0]);
        let constant = Scaled {
            dist: Normal::new(0.5, 1.0)?,
            ..site
        };
        assert!(constant.log_prob_sum_real()?.is_constant());
        Ok(())
    }
}
