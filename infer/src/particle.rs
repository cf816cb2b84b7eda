//! One particle's run: the handler it runs under, what it records, and the proposals.

use crate::seeding::particle_seed;
use pyro_poutine::{
    DirectSink, DirectSite, Handler, Messenger, Model, Name, PyroError, PyroRng, ReplayMessenger,
    Site, SiteKind, SiteValues, Trace, TraceMessenger, Weigher, with_shared_handler,
};
use rand::SeedableRng;
use std::cell::{RefCell, RefMut};
use std::rc::Rc;

/// The handler a particle runs under: it hides the particle's sites from every outer handler (as
/// `block` does), provides the particle's generator (as `seed` does), and records what is kept.
/// A handler is reused by the particles of a chunk, so its buffers are allocated once.
#[doc(hidden)]
pub trait Recorder: 'static {
    /// What is kept per particle.
    type Kept: Send + Default;
    /// Readies the handler for a run seeded with `seed`, weighing only the observed sites if
    /// `observed_only`; forgets what the last run kept.
    fn start(&mut self, seed: u64, observed_only: bool);
    /// Runs `body` with `handler` installed.
    fn install<T>(handler: &Rc<RefCell<Self>>, body: impl FnOnce() -> T) -> T;
    /// Ends a successful run that returned `output` and returns its log-probability sum. What the
    /// run kept stays in [`Recorder::kept`] until the next run starts.
    fn finish<O: Send + Sync + 'static>(&mut self, output: O) -> Result<f64, PyroError>;
    /// What the last finished run kept (taken out of it by the caller that keeps it).
    fn kept(&mut self) -> &mut Self::Kept;
    /// Forgets a failed run.
    fn reset(&mut self);
}

/// Records the whole trace; the sum is the trace's `log_prob_sum`.
pub(crate) struct TraceParticle {
    rng: PyroRng,
    observed_only: bool,
    tracer: TraceMessenger,
    trace: Trace,
}

impl Default for TraceParticle {
    fn default() -> Self {
        TraceParticle {
            rng: PyroRng::seed_from_u64(0),
            observed_only: false,
            tracer: TraceMessenger::new(),
            trace: Trace::default(),
        }
    }
}

impl TraceParticle {
    /// The sites of the last finished run whose log-density, as the run's log-probability sum
    /// counts it (only the observed sites when it weighed only those), is `-inf`.
    fn impossible_sites(&self) -> Vec<Name> {
        self.trace
            .iter()
            .filter(|s| s.kind == SiteKind::Sample && (!self.observed_only || s.is_observed))
            .filter(|s| s.log_prob_sum().is_ok_and(|lp| lp == f64::NEG_INFINITY))
            .map(|s| s.name.clone())
            .collect()
    }
}

impl Messenger for TraceParticle {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        msg.stop = true;
        Ok(())
    }
    fn postprocess(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        self.tracer.postprocess(msg)
    }
    fn rng(&mut self) -> Option<&mut PyroRng> {
        Some(&mut self.rng)
    }
    fn direct(&mut self) -> Option<&mut dyn DirectSink> {
        Some(self)
    }
}

impl DirectSink for TraceParticle {
    fn rng(&mut self) -> &mut PyroRng {
        &mut self.rng
    }
    fn record(&mut self, site: &dyn DirectSite) -> Result<(), PyroError> {
        self.tracer.add(site.message())
    }
}

impl Recorder for TraceParticle {
    type Kept = Trace;
    fn start(&mut self, seed: u64, observed_only: bool) {
        self.rng = PyroRng::seed_from_u64(seed);
        self.observed_only = observed_only;
    }
    fn install<T>(handler: &Rc<RefCell<Self>>, body: impl FnOnce() -> T) -> T {
        with_shared_handler(handler, body)
    }
    fn finish<O: Send + Sync + 'static>(&mut self, output: O) -> Result<f64, PyroError> {
        self.trace = std::mem::take(&mut self.tracer).into_trace();
        self.trace.set_output(output);
        let observed_only = self.observed_only;
        Ok(self
            .trace
            .log_prob_sum(|s| !observed_only || s.is_observed)?)
    }
    fn kept(&mut self) -> &mut Trace {
        &mut self.trace
    }
    fn reset(&mut self) {
        self.tracer = TraceMessenger::new();
    }
}

/// Sums the log-probabilities as the sites pass and keeps the values of chosen sites, without
/// building a trace: the weigher's sample and observe sites take the fast path.
impl Recorder for Weigher {
    type Kept = SiteValues;
    fn start(&mut self, seed: u64, observed_only: bool) {
        Weigher::start(self, seed, observed_only);
    }
    fn install<T>(handler: &Rc<RefCell<Self>>, body: impl FnOnce() -> T) -> T {
        Weigher::run(handler, body)
    }
    fn finish<O: Send + Sync + 'static>(&mut self, _: O) -> Result<f64, PyroError> {
        Ok(Weigher::finish(self))
    }
    fn kept(&mut self) -> &mut SiteValues {
        self.values()
    }
    fn reset(&mut self) {
        Weigher::reset(self);
    }
}

/// A particle handler reused by the particles of a chunk, without reallocating.
pub(crate) struct Runner<R> {
    handler: Rc<RefCell<R>>,
}

impl<R: Recorder> Runner<R> {
    pub(crate) fn new(recorder: R) -> Self {
        Runner {
            handler: Rc::new(RefCell::new(recorder)),
        }
    }

    /// Runs `body` under the particle handler, already installed, seeded with `seed`, and returns
    /// the run's log-probability sum; what it kept is in [`Runner::kept`].
    fn run<O: Send + Sync + 'static>(
        &mut self,
        seed: u64,
        observed_only: bool,
        body: impl FnOnce() -> Result<O, PyroError>,
    ) -> Result<f64, PyroError> {
        self.handler.borrow_mut().start(seed, observed_only);
        let out = body();
        let mut handler = self.handler.borrow_mut();
        match out {
            Ok(output) => handler.finish(output),
            Err(e) => {
                handler.reset();
                Err(e)
            }
        }
    }

    /// [`Runner::run`] with the handler installed for this run only.
    fn run_installed<O: Send + Sync + 'static>(
        &mut self,
        seed: u64,
        observed_only: bool,
        body: impl FnOnce() -> Result<O, PyroError>,
    ) -> Result<f64, PyroError> {
        let handler = self.handler.clone();
        R::install(&handler, || self.run(seed, observed_only, body))
    }

    /// What the last successful run kept.
    fn kept(&self) -> RefMut<'_, R::Kept> {
        RefMut::map(self.handler.borrow_mut(), |h| h.kept())
    }
}

/// The reusable handlers of a chunk of particles.
#[doc(hidden)]
pub struct Workspace<R> {
    model: Runner<R>,
    guide: Runner<TraceParticle>,
}

impl<R: Recorder> Workspace<R> {
    pub(crate) fn new(recorder: R) -> Self {
        Workspace {
            model: Runner::new(recorder),
            guide: Runner::new(TraceParticle::default()),
        }
    }

    /// Runs `f` (a chunk's particles) with the model's handler installed once for all of them:
    /// each particle restarts it. A guide's handler is installed inside it for each guide run
    /// and hides the guide's sites from it.
    pub(crate) fn with_model_installed<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let handler = self.model.handler.clone();
        R::install(&handler, || f(self))
    }

    /// What the last particle kept.
    pub(crate) fn kept(&self) -> RefMut<'_, R::Kept> {
        self.model.kept()
    }
}

impl Workspace<TraceParticle> {
    /// The model sites of the last particle whose log-density, as its log-weight counts it, is
    /// `-inf`.
    pub(crate) fn impossible_sites(&self) -> Vec<Name> {
        self.model.handler.borrow().impossible_sites()
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
    /// What the proposal is (`"prior"` or `"guide"`), as a [`StreamingPosterior`] records it
    /// so that shards of runs with different proposals are not merged.
    ///
    /// [`StreamingPosterior`]: crate::StreamingPosterior
    #[doc(hidden)]
    fn kind(&self) -> &'static str;

    /// Runs particle `index` of a run seeded with `seed`, with the workspace's model handler
    /// installed ([`Workspace::with_model_installed`]), and returns its log-weight; what the
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
    fn kind(&self) -> &'static str {
        "prior"
    }

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
    fn kind(&self) -> &'static str {
        "guide"
    }

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
            .run_installed(guide_seed, false, || self.0.call(args.clone()))?;
        let replay = ReplayMessenger::trace(std::mem::take(&mut *workspace.guide.kept()));
        let model_seed = particle_seed(seed, index, 1);
        let model_log_prob = workspace
            .model
            .run(model_seed, false, || replay.run(|| model.call(args)))?;
        Ok(model_log_prob - guide_log_prob)
    }
}
