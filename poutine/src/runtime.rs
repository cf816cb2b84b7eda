//! The per-thread handler stack and [`apply_stack`].

use crate::direct::{DirectPlate, DirectSink, ThroughPlates};
use crate::error::PyroError;
use crate::handlers::weigher::Weigher;
use crate::plate::PlateMessenger;
use pyro_trace::{Site, SiteKind};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use smallvec::SmallVec;
use std::cell::{Cell, RefCell, RefMut};
use std::rc::Rc;

/// The random-number generator of the default draw: portable (same draws on every machine) and
/// fast.
pub type PyroRng = Xoshiro256PlusPlus;

/// An effect handler: reads and rewrites the messages sent by the primitives.
///
/// Both hooks default to doing nothing. Returning an error abandons the message and the error
/// propagates out of the primitive, and so out of the model.
pub trait Messenger: 'static {
    /// Called on the way in, innermost handler first. Set `msg.stop` to hide the message from
    /// every outer handler; set `msg.done` (with a value) to skip the default draw.
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        let _ = msg;
        Ok(())
    }

    /// Called on the way out, outermost visited handler first.
    fn postprocess(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        let _ = msg;
        Ok(())
    }

    /// Called once when the handled model (model form) or the body of
    /// [`Handler::try_run`](crate::Handler::try_run) has returned successfully, with the handler
    /// already off the stack: a check over the whole run (a strict `condition` reports the data
    /// no site used). Defaults to doing nothing.
    fn finish(&mut self) -> Result<(), PyroError> {
        Ok(())
    }

    /// The generator for the default draw, if this handler provides one (the `seed` handler
    /// does). The innermost installed handler that provides one is used, whether or not the
    /// message reached it.
    fn rng(&mut self) -> Option<&mut PyroRng> {
        None
    }

    /// A shortcut for sample sites, offered by a handler that stops every sample message, draws
    /// latent values with its own [`rng`](Messenger::rng) or supplies them (as its `process`
    /// would), and records the processed message in `postprocess` (the particle handler of
    /// importance sampling does, and the potential of gradient-based inference). While this handler is
    /// the innermost one, or only plates' handlers are inside it (see
    /// [`Messenger::direct_plate`]), [`sample`](crate::sample), [`observe`](crate::observe) and
    /// plates' index sites give their site to the sink and build no message. The sink must
    /// record the site exactly as `postprocess` would record the message
    /// ([`DirectSite::message`](crate::DirectSite::message) builds that message). Defaults to
    /// `None`: messages as usual.
    fn direct(&mut self) -> Option<&mut dyn DirectSink> {
        None
    }

    /// For a plate's handler, whose only effect on a sample message is its frame, its scale and
    /// a check after the message is recorded: that effect, so that sites taken directly by an
    /// outer handler's sink can pass this handler (see [`Messenger::direct`]). Defaults to
    /// `None`: sites under this handler go as messages.
    fn direct_plate(&self) -> Option<&dyn DirectPlate> {
        None
    }
}

type Entry = Rc<RefCell<dyn Messenger>>;

thread_local! {
    static STACK: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
    static DEFAULT_RNG: RefCell<Option<PyroRng>> = const { RefCell::new(None) };
    /// The weigher installed with [`Weigher::run`] (it is also on the stack) while it is the
    /// innermost handler or only plates it took are inside it; `None` otherwise, and while a
    /// site is on the fast path.
    static WEIGHER: Cell<Option<Rc<RefCell<Weigher>>>> = const { Cell::new(None) };
}

/// Runs `f` on the weigher in the fast-path slot (see `WEIGHER`) unless it is already taking a
/// site; `None` otherwise. While `f` runs the slot is empty, so a site
/// sent from inside `f` (by a distribution's own code) goes the slow way.
#[inline]
pub(crate) fn with_weigher<T>(f: impl FnOnce(&mut Weigher) -> T) -> Option<T> {
    let weigher = WEIGHER.with(Cell::take)?;
    let out = weigher.try_borrow_mut().ok().map(|mut w| f(&mut w));
    WEIGHER.with(|slot| slot.set(Some(weigher)));
    out
}

/// The handler at position `i` of this thread's stack (0 is the outermost).
fn stack_entry(i: usize) -> Option<Entry> {
    STACK.with(|s| s.borrow().get(i).cloned())
}

/// Runs `f` on the sink of the innermost handler, if it offers one (see [`Messenger::direct`])
/// and is not running a hook of its own, or on the sink of the handler just outside a run of
/// plates' handlers (see [`Messenger::direct_plate`]), through the plates; `None` otherwise, and
/// the site goes through [`apply_stack`].
pub(crate) fn with_direct<T>(f: impl FnOnce(&mut dyn DirectSink) -> T) -> Option<T> {
    let innermost = STACK.with(|s| s.borrow().last().cloned())?;
    let mut handler = innermost.try_borrow_mut().ok()?;
    if let Some(sink) = handler.direct() {
        return Some(f(sink));
    }
    handler.direct_plate()?;
    drop(handler);
    let (mut f, mut out) = (Some(f), None);
    through_plates(&mut |sink| out = f.take().map(|f| f(sink)))?;
    out
}

/// [`with_direct`] when the innermost handlers are plates': finds the sink outside them and
/// hands `f` a sink that passes each site through the plates.
fn through_plates(f: &mut dyn FnMut(&mut dyn DirectSink)) -> Option<()> {
    // Innermost first: the plates, then the handler with the sink, read in one pass.
    let entries = STACK.with(|s| {
        let mut entries: SmallVec<[Entry; 4]> = SmallVec::new();
        for entry in s.borrow().iter().rev() {
            let is_plate = entry.try_borrow().ok()?.direct_plate().is_some();
            entries.push(entry.clone());
            if !is_plate {
                break;
            }
        }
        Some(entries)
    })?;
    let mut handlers: SmallVec<[RefMut<'_, dyn Messenger>; 4]> = SmallVec::new();
    for entry in &entries {
        handlers.push(entry.try_borrow_mut().ok()?);
    }
    let (outer, plates) = handlers.split_last_mut()?;
    let plates: SmallVec<[&dyn DirectPlate; 4]> =
        plates.iter().filter_map(|h| h.direct_plate()).collect();
    let sink = outer.direct()?;
    f(&mut ThroughPlates {
        sink,
        plates: &plates,
    });
    Some(())
}

/// The number of handlers installed on this thread.
pub fn stack_depth() -> usize {
    STACK.with(|s| s.borrow().len())
}

/// Seeds this thread's default generator, used for draws that no `seed` handler covers.
///
/// ```
/// use pyro_poutine::{sample, set_rng_seed};
/// use pyro_poutine::distributions::Normal;
///
/// set_rng_seed(3);
/// let a = sample("x", Normal::new(0.0, 1.0))?;
/// set_rng_seed(3);
/// let b = sample("x", Normal::new(0.0, 1.0))?;
/// assert_eq!(a, b);
/// # Ok::<(), pyro_poutine::PyroError>(())
/// ```
pub fn set_rng_seed(seed: u64) {
    DEFAULT_RNG.with(|r| *r.borrow_mut() = Some(PyroRng::seed_from_u64(seed)));
}

/// Runs `f` with this thread's default generator (seeded from the OS on first use unless
/// [`set_rng_seed`] was called).
pub(crate) fn with_default_rng<T>(f: impl FnOnce(&mut PyroRng) -> T) -> T {
    DEFAULT_RNG.with(|r| {
        let mut r = r.borrow_mut();
        f(r.get_or_insert_with(rand::make_rng))
    })
}

/// Restores the stack to its length before an installation, and the weigher slot to what it
/// held, on every exit path (including errors and panics).
struct Installed {
    depth: usize,
    /// What the slot held before, to put back (`Keep`: the installation left the slot alone).
    slot: Slot,
}

/// What an installation does to the weigher slot.
enum Slot {
    /// Leaves it alone (a plate the weigher in the slot took).
    Keep,
    /// Puts this in it: the new weigher, or `None` for any other handler.
    Set(Option<Rc<RefCell<Weigher>>>),
}

impl Installed {
    /// Pushes `entry` on the stack and does `slot` to the weigher slot.
    fn new(entry: Entry, slot: Slot) -> Self {
        let depth = STACK.with(|s| {
            let mut s = s.borrow_mut();
            s.push(entry);
            s.len() - 1
        });
        let slot = match slot {
            Slot::Keep => Slot::Keep,
            Slot::Set(w) => Slot::Set(WEIGHER.with(|slot| slot.replace(w))),
        };
        Installed { depth, slot }
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        STACK.with(|s| s.borrow_mut().truncate(self.depth));
        if let Slot::Set(previous) = std::mem::replace(&mut self.slot, Slot::Keep) {
            WEIGHER.with(|slot| slot.set(previous));
        }
    }
}

/// Installs `weigher` for the duration of `body`, on the stack and in the fast-path slot.
pub(crate) fn with_weigher_installed<R>(
    weigher: &Rc<RefCell<Weigher>>,
    body: impl FnOnce() -> R,
) -> R {
    let guard = Installed::new(weigher.clone(), Slot::Set(Some(weigher.clone())));
    let result = body();
    drop(guard);
    result
}

/// Installs a plate's handler for the duration of `body`. Directly inside a weigher on the fast
/// path, the weigher takes the plate's frame and scale for the sites inside and keeps the fast
/// path; otherwise this is [`with_handler`].
pub(crate) fn with_plate_handler<R>(plate: PlateMessenger, body: impl FnOnce() -> R) -> R {
    let entered = with_weigher(|w| w.enter_plate(&plate)).is_some();
    /// Leaves the plate on every exit path.
    struct Entered;
    impl Drop for Entered {
        fn drop(&mut self) {
            with_weigher(Weigher::exit_plate);
        }
    }
    let entry: Entry = Rc::new(RefCell::new(plate));
    let (guard, left) = if entered {
        (Installed::new(entry, Slot::Keep), Some(Entered))
    } else {
        (Installed::new(entry, Slot::Set(None)), None)
    };
    let result = body();
    drop(guard);
    drop(left);
    result
}

/// Installs `handler` for the duration of `body` and returns the handler (with whatever state it
/// gathered) and `body`'s result. The stack is exactly as before when this returns or unwinds.
///
/// This is the scope form of every handler (Pyro's `with handler:`). A handler value is moved
/// into its scope, so the same value cannot be installed twice at once (Pyro raises at run time;
/// here it does not compile):
///
/// ```compile_fail
/// use pyro_poutine::{TraceMessenger, with_handler};
///
/// let t = TraceMessenger::new();
/// with_handler(t, || with_handler(t, || ()));
/// ```
pub fn with_handler<H: Messenger, R>(handler: H, body: impl FnOnce() -> R) -> (H, R) {
    let handler = Rc::new(RefCell::new(handler));
    let result = with_shared_handler(&handler, body);
    let handler = match Rc::try_unwrap(handler) {
        Ok(cell) => cell.into_inner(),
        Err(_) => unreachable!("the stack held the only other reference and was truncated"),
    };
    (handler, result)
}

/// Installs a handler kept behind an `Rc` for the duration of `body`, so that a handler run many
/// times (once per particle, say) is not moved or allocated again at each run. Reading the
/// handler's state afterwards goes through the `RefCell`.
///
/// ```
/// use pyro_poutine::{TraceMessenger, sample, with_shared_handler};
/// use pyro_poutine::distributions::Normal;
/// use std::{cell::RefCell, rc::Rc};
///
/// let tracer = Rc::new(RefCell::new(TraceMessenger::new()));
/// with_shared_handler(&tracer, || sample("x", Normal::new(0.0, 1.0)))?;
/// assert!(tracer.take().into_trace().contains("x"));
/// # Ok::<(), pyro_poutine::PyroError>(())
/// ```
pub fn with_shared_handler<H: Messenger, R>(
    handler: &Rc<RefCell<H>>,
    body: impl FnOnce() -> R,
) -> R {
    let guard = Installed::new(handler.clone(), Slot::Set(None));
    let result = body();
    drop(guard);
    result
}

/// The default action of a message no handler completed.
pub(crate) type Default<'a> = &'a mut dyn FnMut(&mut Site) -> Result<(), PyroError>;

/// Sends `msg` through this thread's handler stack, in Pyro's order:
///
/// 1. `process` from the innermost handler outwards, stopping after a handler that sets `stop`;
/// 2. the default step: unless `done`, a latent sample site without value is drawn from its
///    distribution (with the generator of the innermost `seed` installed, else the thread's), and
///    a param site without value is read from the parameter store (`param_default`); then
///    `done = true`;
/// 3. `postprocess` on the visited handlers from the outermost back to the innermost;
/// 4. the `continuation`, if any; then, if the `escape` handler marked the message, the run
///    ends with [`PyroError::Escape`].
///
/// A handler whose own hook is running (it sent this message itself, as `intervene` does) is
/// skipped: a handler never sees the messages it sends.
pub fn apply_stack(msg: &mut Site, param_default: Option<Default<'_>>) -> Result<(), PyroError> {
    // The handlers below `depth` stay where they are until this call returns: a hook can only
    // install handlers in a scope of its own, above them, and that scope ends before the hook
    // returns. So the stack is read by position, one handler at a time, without a snapshot.
    // The innermost handler, usually the only one a message visits, is read with the depth.
    let (depth, innermost) = STACK.with(|s| {
        let s = s.borrow();
        (s.len(), s.last().cloned())
    });
    let handler_at = |i: usize| match &innermost {
        Some(e) if i + 1 == depth => Some(e.clone()),
        _ => stack_entry(i),
    };
    let mut outermost_visited = depth;
    for i in (0..depth).rev() {
        let Some(entry) = handler_at(i) else { break };
        outermost_visited = i;
        if let Ok(mut h) = entry.try_borrow_mut() {
            h.process(msg)?;
        }
        if msg.stop {
            break;
        }
    }

    if !msg.done {
        match msg.kind {
            SiteKind::Sample if !msg.is_observed && msg.value.is_none() => {
                let dist = msg.dist.as_ref().ok_or_else(|| PyroError::InvalidMessage {
                    site: msg.name.clone(),
                    reason: "a latent sample site reached the default draw without a distribution",
                })?;
                // The generator is the innermost `seed` in scope, whether or not the message
                // reached it (a `block` inside `seed` hides messages, not the seed's scope).
                let mut value = None;
                for i in (0..depth).rev() {
                    let Some(entry) = handler_at(i) else { break };
                    if let Ok(mut h) = entry.try_borrow_mut()
                        && let Some(rng) = h.rng()
                    {
                        value = Some(dist.sample(rng));
                        break;
                    }
                }
                msg.value = Some(value.unwrap_or_else(|| with_default_rng(|r| dist.sample(r))));
            }
            SiteKind::Param if msg.value.is_none() => {
                if let Some(f) = param_default {
                    f(msg)?;
                }
            }
            _ => {}
        }
        msg.done = true;
    }

    for i in outermost_visited..depth {
        let Some(entry) = handler_at(i) else { break };
        if let Ok(mut h) = entry.try_borrow_mut() {
            h.postprocess(msg)?;
        }
    }
    if let Some(continuation) = msg.continuation {
        continuation(msg);
    }
    if msg.escape {
        return Err(PyroError::Escape(Box::new(msg.clone())));
    }
    Ok(())
}
