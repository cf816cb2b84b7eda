//! The thread-local tape, the gradient scope ([`Tape`]) and [`gradient`].

use crate::{Real, TapeError};
use std::cell::RefCell;
use std::marker::PhantomData;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};

/// The id of constants: they have no node.
pub(crate) const CONSTANT: u64 = 0;

/// The most nodes one gradient can record: node indices are `u32`s.
const MAX_NODES: usize = u32::MAX as usize;

/// How many node ids a thread reserves from [`NEXT_BLOCK`] at a time: room for at least three
/// gradients of [`MAX_NODES`] nodes, and for millions of gradients of a typical model.
const ID_BLOCK: u64 = 1 << 34;

/// The first node id not yet reserved by any thread. Ids are unique across threads and gradients
/// (2^30 blocks; running out is [`TapeError::Exhausted`], never a reused id).
static NEXT_BLOCK: AtomicU64 = AtomicU64::new(CONSTANT + 1);

/// One thread's tape. The gradient being taken numbers its nodes from `base`: node `base + i`
/// has the edges `edges[ends[i - 1]..ends[i]]` (from 0 for the first node), one `(parent index,
/// partial)` pair per parent that is not a constant. A leaf has none.
///
/// The buffers `ends` and `edges` are kept between gradients at the size they have grown to, and
/// only their first `nodes` and `edge_count` entries are in use: recording a node writes into
/// them, and only when they are full does it take the slow path that grows them.
struct State {
    /// Whether a gradient is being taken.
    active: bool,
    /// The id of the gradient's first node.
    base: u64,
    /// The number of nodes recorded (0 when no gradient is being taken).
    nodes: usize,
    ends: Vec<usize>,
    edge_count: usize,
    edges: Vec<(u32, f64)>,
    /// The backward sweep's buffer, one adjoint per node.
    adjoints: Vec<f64>,
    /// The first problem met while recording, returned by `backward`.
    poison: Option<TapeError>,
    /// The first id of this thread's reserved block not used yet, and the end of the block.
    next_id: u64,
    block_end: u64,
}

thread_local! {
    static STATE: RefCell<State> = const {
        RefCell::new(State {
            active: false,
            base: CONSTANT,
            nodes: 0,
            ends: Vec::new(),
            edge_count: 0,
            edges: Vec::new(),
            adjoints: Vec::new(),
            poison: None,
            next_id: CONSTANT,
            block_end: CONSTANT,
        })
    };
}

/// Records a node of value `value` with the given parents and partials on this thread's tape.
/// Constant parents are skipped; with none left the result is a constant.
#[inline(never)]
#[track_caller]
pub(crate) fn record(value: f64, parents: &[(Real, f64)]) -> Real {
    let location = Location::caller();
    STATE
        .try_with(|state| state.borrow_mut().record(value, parents, location))
        .unwrap_or_else(|_| detached(value, parents))
}

/// [`record`] for one parent, with its arguments in registers.
#[inline(never)]
#[track_caller]
pub(crate) fn record1(value: f64, x: Real, dx: f64) -> Real {
    let location = Location::caller();
    let parents = [(x, dx)];
    STATE
        .try_with(|state| state.borrow_mut().record(value, &parents, location))
        .unwrap_or_else(|_| detached(value, &parents))
}

/// [`record`] for two parents, with its arguments in registers.
#[inline(never)]
#[track_caller]
pub(crate) fn record2(value: f64, a: Real, da: f64, b: Real, db: f64) -> Real {
    let location = Location::caller();
    let parents = [(a, da), (b, db)];
    STATE
        .try_with(|state| state.borrow_mut().record(value, &parents, location))
        .unwrap_or_else(|_| detached(value, &parents))
}

/// The result of an operation on a tracked `Real` when no gradient is being taken: the right
/// value, with the id of its first tracked parent, which belongs to an ended gradient, so that
/// using it in a later gradient is an error.
fn detached(value: f64, parents: &[(Real, f64)]) -> Real {
    let id = parents
        .iter()
        .map(|(parent, _)| parent.id)
        .find(|&id| id != CONSTANT)
        .unwrap_or(CONSTANT);
    Real { value, id }
}

impl State {
    /// The index on this tape of the node `real`, if it is one.
    #[inline(always)]
    fn index(&self, real: Real) -> Option<u32> {
        let index = real.id.wrapping_sub(self.base);
        // At most MAX_NODES nodes, so an index below `nodes` fits a u32.
        (index < self.nodes as u64).then_some(index as u32)
    }

    /// Records a node: the fast path writes into room already there, for parents that are nodes
    /// of this tape or constants; anything else (no room, a stale parent, no gradient being
    /// taken) takes [`record_slow`](State::record_slow).
    #[inline(always)]
    fn record(
        &mut self,
        value: f64,
        parents: &[(Real, f64)],
        location: &'static Location<'static>,
    ) -> Real {
        let nodes = self.nodes;
        let start = self.edge_count;
        if nodes >= self.ends.len() || self.edges.len() - start < parents.len() {
            return self.record_slow(value, parents, location);
        }
        let mut end = start;
        for &(parent, partial) in parents {
            if let Some(index) = self.index(parent) {
                self.edges[end] = (index, partial);
                end += 1;
            } else if parent.id != CONSTANT {
                return self.record_slow(value, parents, location);
            }
        }
        if end == start {
            return Real::constant(value);
        }
        self.push_node(value, end)
    }

    /// [`record`](State::record) in every case: outside a gradient, a [`detached`] result;
    /// inside one, a stale parent poisons the tape and is left out, and the buffers grow.
    #[cold]
    #[inline(never)]
    fn record_slow(
        &mut self,
        value: f64,
        parents: &[(Real, f64)],
        location: &'static Location<'static>,
    ) -> Real {
        if !self.active {
            return detached(value, parents);
        }
        let mut tracked = 0;
        for &(parent, _) in parents {
            if self.index(parent).is_some() {
                tracked += 1;
            } else if parent.id != CONSTANT {
                self.poison(TapeError::Stale {
                    value: parent.value,
                    location,
                });
            }
        }
        if tracked == 0 || !self.make_room(tracked) {
            return Real::constant(value);
        }
        let mut end = self.edge_count;
        for &(parent, partial) in parents {
            if let Some(index) = self.index(parent) {
                self.edges[end] = (index, partial);
                end += 1;
            }
        }
        self.push_node(value, end)
    }

    /// Makes room for one more node with `edges` edges, or poisons the tape if it is full.
    fn make_room(&mut self, edges: usize) -> bool {
        if self.nodes == MAX_NODES {
            self.poison(TapeError::Full);
            return false;
        }
        if self.nodes == self.ends.len() {
            let len = (2 * self.ends.len()).clamp(64, MAX_NODES);
            self.ends.resize(len, 0);
        }
        let needed = self.edge_count + edges;
        if needed > self.edges.len() {
            self.edges
                .resize(needed.max(2 * self.edges.len()).max(64), (0, 0.0));
        }
        true
    }

    /// Records node `nodes`, whose edges are those from `edge_count` to `end`. There is room.
    #[inline(always)]
    fn push_node(&mut self, value: f64, end: usize) -> Real {
        let index = self.nodes;
        self.ends[index] = end;
        self.edge_count = end;
        self.nodes = index + 1;
        Real {
            value,
            id: self.base + index as u64,
        }
    }

    fn poison(&mut self, error: TapeError) {
        self.poison.get_or_insert(error);
    }

    fn start(&mut self) -> Result<(), TapeError> {
        if self.active {
            return Err(TapeError::Nested);
        }
        if self.block_end - self.next_id < MAX_NODES as u64 {
            let block = NEXT_BLOCK
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |next| {
                    next.checked_add(ID_BLOCK)
                })
                .map_err(|_| TapeError::Exhausted)?;
            self.next_id = block;
            self.block_end = block + ID_BLOCK;
        }
        self.active = true;
        self.base = self.next_id;
        Ok(())
    }

    fn finish(&mut self) {
        self.next_id = self.base + self.nodes as u64;
        self.active = false;
        self.nodes = 0;
        self.edge_count = 0;
        self.poison = None;
    }

    fn leaf(&mut self, value: f64) -> Real {
        if !self.make_room(0) {
            return Real::constant(value);
        }
        self.push_node(value, self.edge_count)
    }

    fn backward_into(
        &mut self,
        output: Real,
        wrt: &[Real],
        gradient: &mut Vec<f64>,
        location: &'static Location<'static>,
    ) -> Result<(), TapeError> {
        if let Some(error) = &self.poison {
            return Err(error.clone());
        }
        let stale = |real: Real| TapeError::Stale {
            value: real.value,
            location,
        };
        let output = match self.index(output) {
            Some(index) => Some(index as usize),
            None if output.is_constant() => None,
            None => return Err(stale(output)),
        };
        for (position, &variable) in wrt.iter().enumerate() {
            match self.index(variable) {
                Some(index) if self.is_leaf(index as usize) => {}
                None if !variable.is_constant() => return Err(stale(variable)),
                _ => {
                    return Err(TapeError::NotALeaf {
                        position,
                        value: variable.value,
                    });
                }
            }
        }
        let State {
            base,
            nodes,
            ends,
            edges,
            adjoints,
            ..
        } = self;
        adjoints.clear();
        adjoints.resize(*nodes, 0.0);
        if let Some(last) = output {
            adjoints[last] = 1.0;
            // Node 0 has no parents: the first node of a tape is always a leaf.
            let mut end = ends[last];
            for node in (1..=last).rev() {
                let start = ends[node - 1];
                let adjoint = adjoints[node];
                if adjoint != 0.0 {
                    for &(parent, partial) in &edges[start..end] {
                        adjoints[parent as usize] += adjoint * partial;
                    }
                }
                end = start;
            }
        }
        gradient.extend(
            wrt.iter()
                .map(|variable| adjoints[(variable.id - *base) as usize]),
        );
        Ok(())
    }

    fn is_leaf(&self, index: usize) -> bool {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        start == self.ends[index]
    }
}

/// A gradient being taken on this thread: the scope in which operations on [`Real`]s are recorded.
///
/// [`Tape::start`] begins it, [`leaf`](Tape::leaf) makes variables (at any time, so a model run
/// can make one per latent site as the sites appear), and [`backward`](Tape::backward) sweeps the
/// tape once from an output to give its gradient with respect to chosen leaves. Dropping the
/// `Tape` ends the gradient: the tape is cleared, its buffers are kept for the next gradient on
/// this thread, and every `Real` recorded in it becomes stale. A `Tape` cannot leave its thread.
///
/// ```
/// use pyro_tape::{Real, Tape};
///
/// let tape = Tape::start()?;
/// let mut leaves = Vec::new();
/// let mut total = Real::constant(0.0);
/// for value in [1.0, 2.0, 3.0] {
///     // Variables made one at a time, as a model's sites appear.
///     let x = tape.leaf(value);
///     leaves.push(x);
///     total += x * x;
/// }
/// assert_eq!(tape.backward(total, &leaves)?, vec![2.0, 4.0, 6.0]);
/// # Ok::<(), pyro_tape::TapeError>(())
/// ```
pub struct Tape {
    _thread_bound: PhantomData<*const ()>,
}

impl Tape {
    /// Starts a gradient on this thread.
    ///
    /// # Errors
    /// [`TapeError::Nested`] if a gradient is already being taken on this thread;
    /// [`TapeError::Unavailable`] if the thread is exiting; [`TapeError::Exhausted`] if the
    /// process has used up the node ids.
    pub fn start() -> Result<Tape, TapeError> {
        STATE
            .try_with(|state| state.borrow_mut().start())
            .unwrap_or(Err(TapeError::Unavailable))?;
        Ok(Tape {
            _thread_bound: PhantomData,
        })
    }

    /// A new variable of this gradient, with value `value`: a leaf of the tape.
    pub fn leaf(&self, value: f64) -> Real {
        STATE
            .try_with(|state| state.borrow_mut().leaf(value))
            .unwrap_or(Real::constant(value))
    }

    /// The gradient of `output` with respect to the leaves `wrt`, in their order, from one
    /// backward sweep. A constant output has a zero gradient. The tape is left as it is, so
    /// `backward` can be called again (for another output, or after recording more).
    ///
    /// # Errors
    /// [`TapeError::Stale`] if a `Real` from an earlier gradient was used in this one (by an
    /// operation, or as `output` or one of `wrt`); [`TapeError::NotALeaf`] if one of `wrt` is not
    /// a leaf of this tape; [`TapeError::Full`] if the tape overflowed.
    #[track_caller]
    pub fn backward(&self, output: Real, wrt: &[Real]) -> Result<Vec<f64>, TapeError> {
        let mut gradient = Vec::with_capacity(wrt.len());
        self.backward_into(output, wrt, &mut gradient)?;
        Ok(gradient)
    }

    /// [`backward`](Tape::backward) into a buffer the caller keeps: `gradient` is cleared and
    /// filled, so repeated gradients allocate nothing once the buffers have grown.
    ///
    /// # Errors
    /// As [`backward`](Tape::backward); `gradient` is left empty.
    #[track_caller]
    pub fn backward_into(
        &self,
        output: Real,
        wrt: &[Real],
        gradient: &mut Vec<f64>,
    ) -> Result<(), TapeError> {
        let location = Location::caller();
        gradient.clear();
        STATE
            .try_with(|state| {
                state
                    .borrow_mut()
                    .backward_into(output, wrt, gradient, location)
            })
            .unwrap_or(Err(TapeError::Unavailable))
    }
}

impl Drop for Tape {
    fn drop(&mut self) {
        // If the thread's tape is already gone there is nothing left to clear.
        let _ = STATE.try_with(|state| state.borrow_mut().finish());
    }
}

/// The value and the gradient of `f` at `point`: `f` is called once with one leaf per coordinate
/// of `point`, and one backward sweep gives the gradient with respect to all of them.
///
/// ```
/// use pyro_tape::{TapeError, gradient};
///
/// let (value, grad) = gradient(&[3.0, 2.0], |v| Ok::<_, TapeError>(v[0] * v[1] + v[0].exp()))?;
/// assert_eq!(value, 6.0 + 3.0_f64.exp());
/// assert_eq!(grad, vec![2.0 + 3.0_f64.exp(), 3.0]);
/// # Ok::<(), TapeError>(())
/// ```
///
/// # Errors
/// The error of `f`, or a [`TapeError`] as from [`Tape::start`] and [`Tape::backward`] (a nested
/// gradient, a stale `Real`) converted into `E`.
#[track_caller]
pub fn gradient<E: From<TapeError>>(
    point: &[f64],
    f: impl FnOnce(&[Real]) -> Result<Real, E>,
) -> Result<(f64, Vec<f64>), E> {
    let tape = Tape::start()?;
    let leaves: Vec<Real> = point.iter().map(|&x| tape.leaf(x)).collect();
    let output = f(&leaves)?;
    let gradient = tape.backward(output, &leaves)?;
    Ok((output.value(), gradient))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The addresses and lengths of this thread's buffers.
    fn buffers() -> [(usize, usize); 3] {
        STATE.with(|state| {
            let state = state.borrow();
            [
                (state.ends.as_ptr() as usize, state.ends.len()),
                (state.edges.as_ptr() as usize, state.edges.len()),
                (state.adjoints.as_ptr() as usize, state.adjoints.capacity()),
            ]
        })
    }

    fn nodes_and_edges() -> (usize, usize) {
        STATE.with(|state| {
            let state = state.borrow();
            (state.nodes, state.edge_count)
        })
    }

    /// A gradient of 2000 nodes, enough to grow the buffers past their first size.
    fn chain(x: f64) -> Result<(f64, Vec<f64>), TapeError> {
        gradient(&[x, 2.0], |v| {
            let mut y = v[0];
            for _ in 0..1000 {
                y = (y * v[1]).sin();
            }
            Ok::<_, TapeError>(y)
        })
    }

    #[test]
    fn buffers_are_reused_between_gradients() -> Result<(), TapeError> {
        chain(0.3)?;
        let grown = buffers();
        assert!(grown[0].1 >= 2002 && grown[1].1 >= 4000, "{grown:?}");
        for x in [0.1, 0.2, 0.7] {
            chain(x)?;
            assert_eq!(buffers(), grown, "a gradient of the same size reallocated");
        }
        // A smaller gradient keeps them too.
        gradient(&[1.0], |v| Ok::<_, TapeError>(v[0] * v[0]))?;
        assert_eq!(buffers(), grown);
        Ok(())
    }

    #[test]
    fn constants_do_not_touch_the_tape() -> Result<(), TapeError> {
        let tape = Tape::start()?;
        let x = tape.leaf(1.5);
        assert_eq!(nodes_and_edges(), (1, 0));
        let c = Real::constant(2.0);
        let y = (c * 3.0 + 1.0).exp().ln().powi(2) / c - c.softplus().log_sum_exp(c);
        assert!(y.is_constant());
        assert_eq!(nodes_and_edges(), (1, 0));
        // A tracked operand with a constant one: one node, one edge.
        let z = x * c;
        assert!(!z.is_constant());
        assert_eq!(nodes_and_edges(), (2, 1));
        // A recorded node with constant parents skips them.
        let w = Real::record(1.0, &[(c, f64::NAN), (z, 2.0), (y, f64::NAN), (x, 3.0)]);
        assert_eq!(nodes_and_edges(), (3, 3));
        assert_eq!(tape.backward(w, &[x])?, vec![2.0 * 2.0 + 3.0]);
        Ok(())
    }

    #[test]
    fn ids_continue_across_gradients_and_threads_take_their_own_blocks() -> Result<(), TapeError> {
        let first = {
            let tape = Tape::start()?;
            let _ = tape.leaf(0.0);
            tape.leaf(1.0).id
        };
        let tape = Tape::start()?;
        let next = tape.leaf(0.0).id;
        assert_eq!(next, first + 1);
        let other = std::thread::spawn(|| -> Result<u64, TapeError> {
            let tape = Tape::start()?;
            Ok(tape.leaf(0.0).id)
        })
        .join()
        .map_err(|_| TapeError::Unavailable)??;
        assert!(other.abs_diff(next) >= MAX_NODES as u64, "{other} {next}");
        Ok(())
    }
}
