//! One particle's run: the handler it runs under, what it records, and the proposals.

use crate::run_names::RunNames;
use crate::seeding::particle_seed;
use pyro_poutine::distributions::Value;
use pyro_poutine::{
    DirectSink, DirectSite, Handler, Messenger, Model, Name, PyroError, PyroRng, Replay, Site,
    SiteKind, Trace, Tracer, with_shared_handler,
};
use pyro_trace::TraceError;
use rand::SeedableRng;
use smallvec::SmallVec;
use std::cell::{RefCell, RefMut};
use std::rc::Rc;
use std::sync::Arc;

/// One particle's values of the chosen sites, in the order of their names (inline for up to four
/// sites).
pub(crate) type SiteValues = SmallVec<[Option<Value>; 4]>;

/// What a particle records as its messages pass, and how its log-probabilities are summed. A
/// recorder is reused by the particles of a chunk, so its buffers are allocated once.
#[doc(hidden)]
pub trait Recorder: Send + 'static {
    /// What is kept per particle.
    type Kept: Send + Default;
    /// Records a processed message.
    fn record(&mut self, msg: &mut Site, observed_only: bool) -> Result<(), PyroError>;
    /// Records a site handed over without a message (see [`DirectSink`]); by default, as its
    /// message.
    fn record_direct(
        &mut self,
        site: &dyn DirectSite,
        observed_only: bool,
    ) -> Result<(), PyroError> {
        self.record(&mut site.message(), observed_only)
    }
    /// Readies the recorder for a run: forgets what the last run kept.
    fn start(&mut self);
    /// Ends a successful run that returned `output` and returns its log-probability sum. What the
    /// run kept stays in [`Recorder::kept`] until the next run starts.
    fn finish<O: Send + Sync + 'static>(
        &mut self,
        output: O,
        observed_only: bool,
    ) -> Result<f64, PyroError>;
    /// What the last finished run kept (taken out of it by the caller that keeps it).
    fn kept(&mut self) -> &mut Self::Kept;
    /// Forgets a failed run.
    fn reset(&mut self);
}

/// Records the whole trace; the sum is the trace's `log_prob_sum`.
#[derive(Default)]
pub(crate) struct TraceRecorder {
    tracer: Tracer,
    trace: Trace,
}

impl Recorder for TraceRecorder {
    type Kept = Trace;
    fn record(&mut self, msg: &mut Site, _: bool) -> Result<(), PyroError> {
        self.tracer.postprocess(msg)
    }
    fn record_direct(&mut self, site: &dyn DirectSite, _: bool) -> Result<(), PyroError> {
        self.tracer.add(site.message())
    }
    fn start(&mut self) {}
    fn finish<O: Send + Sync + 'static>(
        &mut self,
        output: O,
        observed_only: bool,
    ) -> Result<f64, PyroError> {
        self.trace = std::mem::take(&mut self.tracer).into_trace();
        self.trace.set_output(output);
        Ok(self
            .trace
            .log_prob_sum(|s| !observed_only || s.is_observed)?)
    }
    fn kept(&mut self) -> &mut Trace {
        &mut self.trace
    }
    fn reset(&mut self) {
        self.tracer = Tracer::new();
    }
}

/// Sums the log-probabilities as the messages pass and keeps the values of chosen sites, without
/// building a trace. It sums in message order from 0, exactly as `Trace::log_prob_sum` does, and
/// refuses duplicate sample names as a trace would, so both recorders give identical weights.
pub(crate) struct SiteRecorder {
    names: RunNames,
    values: SiteValues,
    log_prob: f64,
}

impl SiteRecorder {
    pub(crate) fn new(sites: Arc<[Name]>) -> Self {
        SiteRecorder {
            values: SmallVec::new(),
            names: RunNames::new(sites),
            log_prob: 0.0,
        }
    }

    /// Records sample site `name`: checks the name, adds the log-probability (if `scored`) and
    /// keeps the value (if the site is chosen).
    fn visit(
        &mut self,
        name: &Name,
        scored: bool,
        log_prob: impl FnOnce() -> Result<f64, PyroError>,
        value: impl FnOnce() -> Option<Value>,
    ) -> Result<(), PyroError> {
        let Ok(chosen) = self.names.visit(name) else {
            let name = name.clone();
            return Err(TraceError::DuplicateSite { name }.into());
        };
        if scored {
            self.log_prob += log_prob()?;
        }
        if let Some(i) = chosen {
            self.values[i] = value();
        }
        Ok(())
    }
}

impl Recorder for SiteRecorder {
    type Kept = SiteValues;
    fn record(&mut self, msg: &mut Site, observed_only: bool) -> Result<(), PyroError> {
        if msg.kind != SiteKind::Sample {
            return Ok(());
        }
        let scored = !observed_only || msg.is_observed;
        self.visit(
            &msg.name,
            scored,
            || Ok(msg.log_prob_sum()?),
            || msg.value.clone(),
        )
    }
    #[inline]
    fn record_direct(
        &mut self,
        site: &dyn DirectSite,
        observed_only: bool,
    ) -> Result<(), PyroError> {
        let scored = !observed_only || site.is_observed();
        self.visit(
            site.name(),
            scored,
            || Ok(site.log_prob_sum()?),
            || Some(site.value()),
        )
    }
    fn start(&mut self) {
        let sites = self.names.sites();
        if self.values.len() == sites {
            self.values.iter_mut().for_each(|v| *v = None);
        } else {
            // Empty before the first run, and after the last run's values were taken.
            self.values.clear();
            self.values.resize(sites, None);
        }
    }
    fn finish<O: Send + Sync + 'static>(&mut self, _: O, _: bool) -> Result<f64, PyroError> {
        self.names.finish();
        Ok(std::mem::take(&mut self.log_prob))
    }
    fn kept(&mut self) -> &mut SiteValues {
        &mut self.values
    }
    fn reset(&mut self) {
        self.names.abandon();
        self.log_prob = 0.0;
    }
}

/// The one handler a particle runs under: it hides the particle's messages from every outer
/// handler (as `block` does), provides the particle's generator (as `seed` does), and records.
struct ParticleHandler<R> {
    rng: PyroRng,
    recorder: R,
    observed_only: bool,
}

impl<R: Recorder> Messenger for ParticleHandler<R> {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        msg.stop = true;
        Ok(())
    }
    fn postprocess(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        self.recorder.record(msg, self.observed_only)
    }
    fn rng(&mut self) -> Option<&mut PyroRng> {
        Some(&mut self.rng)
    }
    fn direct(&mut self) -> Option<&mut dyn DirectSink> {
        Some(self)
    }
}

impl<R: Recorder> DirectSink for ParticleHandler<R> {
    fn rng(&mut self) -> &mut PyroRng {
        &mut self.rng
    }
    fn record(&mut self, site: &dyn DirectSite) -> Result<(), PyroError> {
        self.recorder.record_direct(site, self.observed_only)
    }
}

/// A particle handler installed again for each particle, without reallocating.
pub(crate) struct Runner<R> {
    handler: Rc<RefCell<ParticleHandler<R>>>,
}

impl<R: Recorder> Runner<R> {
    pub(crate) fn new(recorder: R) -> Self {
        Runner {
            handler: Rc::new(RefCell::new(ParticleHandler {
                rng: PyroRng::seed_from_u64(0),
                recorder,
                observed_only: false,
            })),
        }
    }

    /// Runs `body` under the particle handler seeded with `seed` and returns the run's
    /// log-probability sum; what it kept is in [`Runner::kept`].
    fn run<O: Send + Sync + 'static>(
        &mut self,
        seed: u64,
        observed_only: bool,
        body: impl FnOnce() -> Result<O, PyroError>,
    ) -> Result<f64, PyroError> {
        {
            let mut handler = self.handler.borrow_mut();
            handler.rng = PyroRng::seed_from_u64(seed);
            handler.observed_only = observed_only;
            handler.recorder.start();
        }
        let out = with_shared_handler(&self.handler, body);
        let mut handler = self.handler.borrow_mut();
        match out {
            Ok(output) => handler.recorder.finish(output, observed_only),
            Err(e) => {
                handler.recorder.reset();
                Err(e)
            }
        }
    }

    /// What the last successful run kept.
    fn kept(&self) -> RefMut<'_, R::Kept> {
        RefMut::map(self.handler.borrow_mut(), |h| h.recorder.kept())
    }
}

/// The reusable handlers of a chunk of particles.
#[doc(hidden)]
pub struct Workspace<R> {
    model: Runner<R>,
    guide: Runner<TraceRecorder>,
}

impl<R: Recorder> Workspace<R> {
    pub(crate) fn new(recorder: R) -> Self {
        Workspace {
            model: Runner::new(recorder),
            guide: Runner::new(TraceRecorder::default()),
        }
    }

    /// What the last particle kept.
    pub(crate) fn kept(&self) -> RefMut<'_, R::Kept> {
        self.model.kept()
    }
}

/// The proposal of an [`Importance`](crate::Importance) run that has no guide: the prior, i.e.
/// the model with its observed sites hidden.
#[derive(Clone, Copy, Debug, Default)]
pub struct Prior;

/// The proposal of an [`Importance`](crate::Importance) run with a guide
/// ([`Importance::guide`](crate::Importance::guide)).
#[derive(Clone, Copy, Debug)]
pub struct Guide<G>(pub G);

/// How a particle is proposed and weighed: [`Prior`] or [`Guide`].
pub trait Proposal<M, A>: Sync {
    /// Runs particle `index` of a run seeded with `seed` and returns its log-weight; what the
    /// recorder kept is in the workspace.
    #[doc(hidden)]
    fn particle<R: Recorder>(
        &self,
        model: &M,
        args: A,
        seed: u64,
        index: usize,
        workspace: &mut Workspace<R>,
    ) -> Result<f64, PyroError>;
}

impl<M, A> Proposal<M, A> for Prior
where
    M: Model<A> + Sync,
    M::Output: Send + Sync + 'static,
{
    /// The guide would be the model with its observed sites hidden: both traces would hold the
    /// same latent sites with the same values and densities, so the log-weight is exactly the
    /// observed log-likelihood, from one run of the model.
    fn particle<R: Recorder>(
        &self,
        model: &M,
        args: A,
        seed: u64,
        index: usize,
        workspace: &mut Workspace<R>,
    ) -> Result<f64, PyroError> {
        let seed = particle_seed(seed, index, 0);
        workspace.model.run(seed, true, || model.call(args))
    }
}

impl<M, G, A> Proposal<M, A> for Guide<G>
where
    M: Model<A> + Sync,
    M::Output: Send + Sync + 'static,
    G: Model<A> + Sync,
    G::Output: Send + Sync + 'static,
    A: Clone,
{
    fn particle<R: Recorder>(
        &self,
        model: &M,
        args: A,
        seed: u64,
        index: usize,
        workspace: &mut Workspace<R>,
    ) -> Result<f64, PyroError> {
        let guide_seed = particle_seed(seed, index, 0);
        let guide_log_prob = workspace
            .guide
            .run(guide_seed, false, || self.0.call(args.clone()))?;
        let replay = Replay::trace(std::mem::take(&mut *workspace.guide.kept()));
        let model_seed = particle_seed(seed, index, 1);
        let model_log_prob = workspace
            .model
            .run(model_seed, false, || replay.run(|| model.call(args)))?;
        Ok(model_log_prob - guide_log_prob)
    }
}
