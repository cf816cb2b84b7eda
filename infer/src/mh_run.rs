//! [`MhRun`]: the handler one run of a [`TraceMh`](crate::TraceMh) proposal runs under.

use crate::mh::prior_log_prob;
use pyro_poutine::distributions::{AnyDistribution, Constraint, Value};
use pyro_poutine::{Messenger, Name, PyroError, PyroRng, Site, SiteKind, Trace, TraceMessenger};
use smallvec::SmallVec;

/// A value a run must give a latent site: a random walk's proposal, or an initial value.
#[derive(Clone, Debug)]
pub(crate) struct Forced {
    pub(crate) name: Name,
    value: Value,
    /// The support the value was proposed in (a random walk), which the site must still have.
    support: Option<Constraint>,
    /// Whether the run reached the site as a latent site.
    pub(crate) used: bool,
}

impl Forced {
    pub(crate) fn new(name: Name, value: Value, support: Option<Constraint>) -> Self {
        Forced {
            name,
            value,
            support,
            used: false,
        }
    }
}

/// What the handler decided for the message between its `process` and `postprocess`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Decision {
    /// Not a latent site of the chain: observed, a param, a plate's indices, or given a value by
    /// a handler inside the model.
    #[default]
    Fixed,
    /// Took a forced value.
    Forced,
    /// Kept its value from the previous trace.
    Reused,
    /// Drawn from its distribution.
    Fresh,
}

/// The handler of one run of a proposal: it hides the run's sites from outer handlers (as
/// `block` does), draws with the chain's generator (as `seed` does), gives latent sites their
/// values (forced, else the previous trace's, else a fresh draw) and records the run (as `trace`
/// does), noting which sites are latent and the prior density of the fresh draws.
///
/// A chain keeps one for all its steps (installed with `with_shared_handler`), so that its
/// buffers are allocated once.
#[derive(Default)]
pub(crate) struct MhRun {
    /// The trace the chain is at (lent by the chain for the run).
    pub(crate) previous: Trace,
    pub(crate) forced: SmallVec<[Forced; 2]>,
    /// Sites drawn fresh even if the previous trace has them (prior proposals).
    pub(crate) resimulate: SmallVec<[Name; 2]>,
    pub(crate) rng: Option<PyroRng>,
    tracer: TraceMessenger,
    /// Per site of `previous`: whether this run reused its value (or replaced it by a forced
    /// one).
    pub(crate) reused: Vec<bool>,
    /// The positions in the new trace of its latent sites.
    pub(crate) latent: Vec<usize>,
    /// The sum of the prior log-densities of the fresh draws.
    pub(crate) fresh_log_prob: f64,
    /// A forced site reached with another support: the proposal cannot be reversed.
    pub(crate) mismatch: bool,
    decision: Decision,
}

impl MhRun {
    /// Readies a run from `previous` (the chain's trace, empty to start a chain) with the chain's
    /// generator: empties what the last run recorded and decided (but the forced and resimulated
    /// sites, set before).
    pub(crate) fn start(&mut self, previous: Trace, rng: &PyroRng) {
        self.previous = previous;
        self.rng = Some(rng.clone());
        self.tracer = TraceMessenger::recording_into(std::mem::take(&mut self.tracer).into_trace());
        self.reused.clear();
        self.reused.resize(self.previous.len(), false);
        self.latent.clear();
        self.fresh_log_prob = 0.0;
        self.mismatch = false;
    }

    /// The trace the run recorded.
    pub(crate) fn recorded(&self) -> &Trace {
        self.tracer.trace()
    }

    /// Makes the recorded trace the chain's (`current` and the latent positions `latent` take
    /// the run's; the run keeps the old ones as buffers).
    pub(crate) fn accept_into(&mut self, current: &mut Trace, latent: &mut Vec<usize>) {
        let recorded = std::mem::take(&mut self.tracer).into_trace();
        self.tracer = TraceMessenger::recording_into(std::mem::replace(current, recorded));
        std::mem::swap(latent, &mut self.latent);
    }

    /// Whether a forced value went unused, or to a site of another support.
    pub(crate) fn forced_missed(&self) -> bool {
        self.mismatch || self.forced.iter().any(|f| !f.used)
    }

    /// The names of the latent sites recorded so far.
    pub(crate) fn latent_names(&self) -> impl Iterator<Item = &Name> {
        let trace = self.tracer.trace();
        self.latent
            .iter()
            .filter_map(|&p| trace.get_index(p).map(|s| &s.name))
    }

    fn decide(&mut self, msg: &mut Site) -> Decision {
        if msg.kind != SiteKind::Sample || msg.is_observed || msg.done || msg.is_subsample() {
            return Decision::Fixed;
        }
        if let Some(f) = self.forced.iter_mut().find(|f| f.name == msg.name) {
            if let Some(support) = f.support
                && msg.dist.as_ref().map(|d| d.support()) != Some(support)
            {
                self.mismatch = true;
            }
            msg.value = Some(f.value.clone());
            msg.done = true;
            f.used = true;
            return Decision::Forced;
        }
        if !self.resimulate.contains(&msg.name)
            && let Some((i, old)) = self.previous.get_full(&msg.name)
            && reusable(old, msg)
        {
            msg.value.clone_from(&old.value);
            msg.done = true;
            self.reused[i] = true;
            return Decision::Reused;
        }
        Decision::Fresh
    }
}

/// Whether the new run's latent site `msg` keeps the value `old` had: same kind of site, same
/// family, same batch length. (The rule looks at both sides alike, so the proposal it makes is
/// reversible; a kept value outside a changed support scores `-inf` and is rejected.)
fn reusable(old: &Site, msg: &Site) -> bool {
    old.kind == SiteKind::Sample
        && !old.is_observed
        && !old.is_subsample()
        && old.value.is_some()
        && match (&old.dist, &msg.dist) {
            (Some(AnyDistribution::Custom(a)), Some(AnyDistribution::Custom(b))) => {
                a.family_name() == b.family_name() && a.batch_size() == b.batch_size()
            }
            // A built-in family is its variant, and is never batched.
            (Some(a), Some(b)) => std::mem::discriminant(a) == std::mem::discriminant(b),
            _ => false,
        }
}

impl Messenger for MhRun {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        msg.stop = true;
        self.decision = self.decide(msg);
        Ok(())
    }

    fn postprocess(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        let decision = std::mem::take(&mut self.decision);
        if let Some(frame) = msg.cond_indep_stack.iter().find(|f| f.size < f.full_size) {
            return Err(PyroError::Plate {
                plate: frame.name.clone(),
                reason: format!(
                    "MCMC needs every element, but the plate subsamples {} of {}: a subsampled \
                     likelihood does not define the model's posterior",
                    frame.size, frame.full_size
                ),
            });
        }
        let position = self.tracer.trace().len();
        self.tracer.add(msg.clone())?;
        if decision == Decision::Fixed {
            return Ok(());
        }
        if self.tracer.trace().len() == position {
            return Err(PyroError::InvalidHandler {
                handler: "mcmc",
                reason: format!(
                    "latent site '{}' is marked _do_not_trace; MCMC over traces needs every \
                     latent site recorded",
                    msg.name
                ),
            });
        }
        self.latent.push(position);
        if decision == Decision::Fresh {
            self.fresh_log_prob += prior_log_prob(msg);
        }
        Ok(())
    }

    fn rng(&mut self) -> Option<&mut PyroRng> {
        self.rng.as_mut()
    }
}
