//! The thread-local tape, the gradient scope ([`Tape`]) and [`gradient`].

use crate::{Real, TapeError, Weights};
use std::cell::RefCell;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};

/// The id of constants: they have no node.
pub(crate) const CONSTANT: u64 = 0;

/// The most nodes one gradient can record: node indices are `u32`s below [`BLOCK`].
const MAX_NODES: usize = BLOCK as usize;

/// The id that the elements of a vector computed outside any gradient from a tracked one start
/// from ([`detached_block`]): ids from it up to [`ID_BLOCK`] are never given to a node.
pub(crate) const DETACHED: u64 = CONSTANT + 1;

/// How many node ids a thread reserves from [`NEXT_BLOCK`] at a time: room for at least three
/// gradients of [`MAX_NODES`] nodes, and for millions of gradients of a typical model.
const ID_BLOCK: u64 = 1 << 34;

/// The first node id not yet reserved by any thread. Ids are unique across threads and gradients
/// (2^30 blocks; running out is [`TapeError::Exhausted`], never a reused id). The first block is
/// never reserved: its ids are [`DETACHED`]'s.
static NEXT_BLOCK: AtomicU64 = AtomicU64::new(ID_BLOCK);

/// A node of the tape: two parents, each with the partial derivative of the node with respect to
/// it, inline. Node `i` is one of
/// - an operation or a recorded node with one or two parents that are not constants: both
///   `parents` are below `i`, or one is and the other is `i` itself, for a single parent or a
///   constant operand (with any partial). That slot names the node itself, whose adjoint the
///   backward sweep has already read when it adds to it (the sum is never read), so every such
///   node is two multiply-adds, without a branch;
/// - a leaf: `parents == [OUT_OF_LINE, OUT_OF_LINE]`;
/// - a recorded node with more parents: `parents == [OUT_OF_LINE, k]`, its parents and partials
///   in `State::edges[spans[k].0..spans[k].1]`;
/// - an element of block `k` (a run of nodes recorded together, [`Block`]):
///   `parents == [BLOCK, k]`.
#[derive(Clone, Copy)]
struct Node {
    parents: [u32; 2],
    partials: [f64; 2],
}

/// The first parent of a node whose parents are not inline, as [`Node`] describes. No node has
/// this index: it is above [`MAX_NODES`].
const OUT_OF_LINE: u32 = u32::MAX;

/// The first parent of an element of a block, as [`Node`] describes: [`MAX_NODES`], which no
/// node has as index.
const BLOCK: u32 = u32::MAX - 1;

/// A block: `len` nodes from index `start` recorded together, as the elements of one vector
/// ([`Reals`](crate::Reals)), or as one scalar whose parents are vectors. Its parents are the
/// [`BlockEdge`]s `State::block_edges[edges.0..edges.1]`; the backward sweep takes the block as
/// a whole, one loop per edge over contiguous adjoints.
#[derive(Clone, Copy)]
struct Block {
    start: u32,
    len: u32,
    edges: (usize, usize),
}

/// A parent of a [`Block`] of `m` elements: the `parent_len` nodes from index `parent`, and the
/// partials, `weight` for all or `State::weights[weights..]` one by one when `weights` is not
/// [`ALL`]. Either `parent_len == m` (element `i` depends on parent element `i`, with partial
/// `i`), `parent_len == 1` (each element depends on the one parent, with partial `i`), or
/// `m == 1` (the one element depends on every parent element, with partial `i`).
#[derive(Clone, Copy)]
struct BlockEdge {
    parent: u32,
    parent_len: u32,
    weight: f64,
    weights: usize,
}

/// [`BlockEdge::weights`] of an edge whose partials are all `weight`.
const ALL: usize = usize::MAX;

/// A parent of a block being recorded: a tape id (a vector's first element), the number of
/// elements, and the partials.
#[derive(Clone, Copy)]
pub(crate) struct BlockParent<'a> {
    /// The value of its first element, for the error if it is stale.
    pub(crate) value: f64,
    pub(crate) id: u64,
    pub(crate) len: usize,
    pub(crate) weights: Weights<'a>,
}

/// A leaf.
const LEAF: Node = Node {
    parents: [OUT_OF_LINE; 2],
    partials: [0.0; 2],
};

/// One thread's tape. The gradient being taken numbers its nodes from `base`: node `base + i` is
/// `nodes[i]`, for `i` below `len`.
///
/// The buffers are kept between gradients at the size they have grown to. `nodes` has room for
/// more than `len` nodes: recording one writes into that room, and only when it is full does it
/// take the slow path that grows it.
struct State {
    /// Whether a gradient is being taken.
    active: bool,
    /// The id of the gradient's first node.
    base: u64,
    /// The number of nodes recorded (0 when no gradient is being taken).
    len: usize,
    nodes: Vec<Node>,
    /// The edges of the nodes with more than two parents, and their spans in node order.
    edges: Vec<(u32, f64)>,
    spans: Vec<(usize, usize)>,
    /// The blocks, their edges, and the partials of edges that have one per element.
    blocks: Vec<Block>,
    block_edges: Vec<BlockEdge>,
    weights: Vec<f64>,
    /// The backward sweep's buffer, one adjoint per node.
    adjoints: Vec<f64>,
    /// The first problem met while recording, returned by `backward`.
    poison: Option<TapeError>,
    /// The first id of this thread's reserved block not used yet, and the end of the block.
    next_id: u64,
    block_end: u64,
}

impl State {
    /// The state of a thread that has taken no gradient: no buffers.
    const NEW: State = State {
        active: false,
        base: CONSTANT,
        len: 0,
        nodes: Vec::new(),
        edges: Vec::new(),
        spans: Vec::new(),
        blocks: Vec::new(),
        block_edges: Vec::new(),
        weights: Vec::new(),
        adjoints: Vec::new(),
        poison: None,
        next_id: CONSTANT,
        block_end: CONSTANT,
    };
}

thread_local! {
    /// This thread's tape. A thread-local without drop glue (hence the `ManuallyDrop`) is reached
    /// without checking that its destructor is registered, a check every operation would pay:
    /// [`BUFFERS`] frees the tape's buffers instead when the thread exits.
    static STATE: ManuallyDrop<RefCell<State>> =
        const { ManuallyDrop::new(RefCell::new(State::NEW)) };

    /// Frees this thread's tape buffers when the thread exits. Every gradient touches it first,
    /// which registers its destructor before any buffer is allocated; once it has run, no
    /// gradient can start.
    static BUFFERS: Buffers = const { Buffers };
}

/// See [`BUFFERS`].
struct Buffers;

impl Drop for Buffers {
    fn drop(&mut self) {
        STATE.with(|state| {
            // Not borrowed: no code outside this module runs while it is.
            if let Ok(mut state) = state.try_borrow_mut() {
                // Any `Tape` left is now inactive: its operations give detached `Real`s, its
                // leaves constants and its backward an error, and none of them allocates.
                *state = State::NEW;
            }
        });
    }
}

/// Records a node of value `value` with the given parents and partials on this thread's tape.
/// Constant parents are skipped; with none left the result is a constant.
#[inline(never)]
#[track_caller]
pub(crate) fn record(value: f64, parents: &[(Real, f64)]) -> Real {
    let location = Location::caller();
    STATE.with(|state| state.borrow_mut().record(value, parents, location))
}

/// [`record`] for one parent, not a constant, with its arguments in registers.
#[inline(never)]
#[track_caller]
pub(crate) fn record1(value: f64, x: Real, dx: f64) -> Real {
    let location = Location::caller();
    STATE.with(|state| state.borrow_mut().record1(value, x, dx, location))
}

/// [`record`] for two parents, not both constants, with its arguments in registers.
#[inline(never)]
#[track_caller]
pub(crate) fn record2(value: f64, a: Real, da: f64, b: Real, db: f64) -> Real {
    let location = Location::caller();
    STATE.with(|state| state.borrow_mut().record2(value, a, da, b, db, location))
}

/// Records a block of `len` nodes (`len >= 1`) with the given parents on this thread's tape: the
/// id of its first element, or [`CONSTANT`] when every parent is a constant. Outside a gradient,
/// [`DETACHED`] if a parent is tracked.
#[inline(never)]
#[track_caller]
pub(crate) fn record_block(len: usize, parents: &[BlockParent<'_>]) -> u64 {
    if parents.iter().all(|parent| parent.id == CONSTANT) {
        return CONSTANT;
    }
    let location = Location::caller();
    STATE.with(|state| state.borrow_mut().record_block(len, parents, location))
}

/// The id of a vector whose element `i` is `reals[i]` (not all constants), on this thread's tape:
/// see `State::gather`.
#[inline(never)]
#[track_caller]
pub(crate) fn gather(reals: &[Real]) -> u64 {
    let location = Location::caller();
    STATE.with(|state| state.borrow_mut().gather(reals, location))
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
        // At most MAX_NODES nodes, so an index below `len` fits a u32.
        (index < self.len as u64).then_some(index as u32)
    }

    /// Records node `len`, `node`. There is room.
    #[inline(always)]
    fn push(&mut self, value: f64, node: Node) -> Real {
        let index = self.len;
        self.nodes[index] = node;
        self.len = index + 1;
        Real {
            value,
            id: self.base + index as u64,
        }
    }

    /// [`record`](State::record) for one parent: the fast path, for a parent of this tape and
    /// room already there; anything else takes [`record_slow`](State::record_slow).
    #[inline(always)]
    fn record1(
        &mut self,
        value: f64,
        x: Real,
        dx: f64,
        location: &'static Location<'static>,
    ) -> Real {
        let index = self.len;
        let parent = x.id.wrapping_sub(self.base);
        if parent < index as u64 && index < self.nodes.len() {
            // Indices below `len` fit a u32, and so does `len` (at most MAX_NODES).
            let node = Node {
                parents: [parent as u32, index as u32],
                partials: [dx, 0.0],
            };
            self.push(value, node)
        } else {
            self.record1_slow(value, x, dx, location)
        }
    }

    /// [`record`](State::record) for two parents, not both constants (else the result would be
    /// a node with no parent): the fast path, for parents of this tape or constants and room
    /// already there; anything else takes [`record_slow`](State::record_slow).
    #[inline(always)]
    fn record2(
        &mut self,
        value: f64,
        a: Real,
        da: f64,
        b: Real,
        db: f64,
        location: &'static Location<'static>,
    ) -> Real {
        let index = self.len;
        let len = index as u64;
        // A constant's slot is the node itself: `len`. That of a node of this tape is below, and
        // that of any other tracked `Real` above (no `Real` has the id of the node being made).
        let slot = |real: Real| {
            if real.id == CONSTANT {
                len
            } else {
                real.id.wrapping_sub(self.base)
            }
        };
        let (pa, pb) = (slot(a), slot(b));
        if (pa <= len) & (pb <= len) & (index < self.nodes.len()) {
            // Slots up to `len` fit a u32 (at most MAX_NODES).
            let node = Node {
                parents: [pa as u32, pb as u32],
                partials: [da, db],
            };
            self.push(value, node)
        } else {
            self.record2_slow(value, a, da, b, db, location)
        }
    }

    /// Records a node: the fast path, in one pass over `parents`, keeps up to two parents that
    /// are nodes of this tape inline, skipping constants, and moves to
    /// [`record_many`](State::record_many) at a third; anything else (no room, a stale parent,
    /// no gradient being taken) takes [`record_slow`](State::record_slow).
    #[inline(always)]
    fn record(
        &mut self,
        value: f64,
        parents: &[(Real, f64)],
        location: &'static Location<'static>,
    ) -> Real {
        let index = self.len;
        if index >= self.nodes.len() {
            return self.record_slow(value, parents, location);
        }
        let len = index as u64;
        let mut node = Node {
            parents: [index as u32; 2],
            partials: [0.0; 2],
        };
        let mut count = 0;
        for (position, &(parent, partial)) in parents.iter().enumerate() {
            let parent_index = parent.id.wrapping_sub(self.base);
            if parent_index < len {
                if count == 2 {
                    return self.record_many(value, node, parents, position, location);
                }
                node.parents[count] = parent_index as u32;
                node.partials[count] = partial;
                count += 1;
            } else if parent.id != CONSTANT {
                return self.record_slow(value, parents, location);
            }
        }
        if count == 0 {
            return Real::constant(value);
        }
        self.push(value, node)
    }

    /// [`record`](State::record) from its third parent on, `parents[position]`: `node` holds the
    /// first two, and the edges buffer takes them all.
    #[inline(never)]
    fn record_many(
        &mut self,
        value: f64,
        node: Node,
        parents: &[(Real, f64)],
        position: usize,
        location: &'static Location<'static>,
    ) -> Real {
        let start = self.edges.len();
        self.edges
            .extend(node.parents.into_iter().zip(node.partials));
        for &(parent, partial) in &parents[position..] {
            if let Some(index) = self.index(parent) {
                self.edges.push((index, partial));
            } else if parent.id != CONSTANT {
                self.edges.truncate(start);
                return self.record_slow(value, parents, location);
            }
        }
        self.push_many(value, start)
    }

    /// Records node `len` with the edges from `start` on. There is room.
    fn push_many(&mut self, value: f64, start: usize) -> Real {
        // At most one span per node, so fewer than MAX_NODES: not OUT_OF_LINE.
        let span = self.spans.len() as u32;
        self.spans.push((start, self.edges.len()));
        let node = Node {
            parents: [OUT_OF_LINE, span],
            partials: [0.0; 2],
        };
        self.push(value, node)
    }

    #[cold]
    #[inline(never)]
    fn record1_slow(
        &mut self,
        value: f64,
        x: Real,
        dx: f64,
        location: &'static Location<'static>,
    ) -> Real {
        self.record_slow(value, &[(x, dx)], location)
    }

    #[cold]
    #[inline(never)]
    fn record2_slow(
        &mut self,
        value: f64,
        a: Real,
        da: f64,
        b: Real,
        db: f64,
        location: &'static Location<'static>,
    ) -> Real {
        self.record_slow(value, &[(a, da), (b, db)], location)
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
        for &(parent, _) in parents {
            if self.index(parent).is_none() && parent.id != CONSTANT {
                self.poison(TapeError::Stale {
                    value: parent.value,
                    location,
                });
            }
        }
        let tracked: Vec<(u32, f64)> = parents
            .iter()
            .filter_map(|&(parent, partial)| Some((self.index(parent)?, partial)))
            .collect();
        if tracked.is_empty() || !self.make_room() {
            return Real::constant(value);
        }
        if let [(a, da), ref rest @ ..] = tracked[..]
            && rest.len() <= 1
        {
            let index = self.len as u32;
            let (b, db) = rest.first().copied().unwrap_or((index, 0.0));
            let node = Node {
                parents: [a, b],
                partials: [da, db],
            };
            return self.push(value, node);
        }
        let start = self.edges.len();
        self.edges.extend(tracked);
        self.push_many(value, start)
    }

    /// Makes room for one more node, or poisons the tape if it is full.
    fn make_room(&mut self) -> bool {
        self.make_room_for(1)
    }

    /// Makes room for `count` more nodes, or poisons the tape if they do not fit.
    fn make_room_for(&mut self, count: usize) -> bool {
        if count > MAX_NODES - self.len {
            self.poison(TapeError::Full);
            return false;
        }
        let needed = self.len + count;
        if needed > self.nodes.len() {
            let len = (2 * self.nodes.len()).max(needed).clamp(64, MAX_NODES);
            self.nodes.resize(len, LEAF);
        }
        true
    }

    /// See [`record_block`].
    fn record_block(
        &mut self,
        len: usize,
        parents: &[BlockParent<'_>],
        location: &'static Location<'static>,
    ) -> u64 {
        if !self.active {
            return DETACHED;
        }
        if len == 0 {
            return CONSTANT;
        }
        let start = self.len;
        let first_edge = self.block_edges.len();
        for parent in parents {
            if parent.id == CONSTANT || parent.len == 0 {
                continue;
            }
            let index = parent.id.wrapping_sub(self.base);
            if index >= start as u64 || parent.len as u64 > start as u64 - index {
                self.poison(TapeError::Stale {
                    value: parent.value,
                    location,
                });
                continue;
            }
            let span = len.max(parent.len);
            debug_assert!(parent.len == len || parent.len == 1 || len == 1);
            let (weight, weights) = match parent.weights {
                Weights::All(weight) => (weight, ALL),
                Weights::Each(each) => {
                    debug_assert_eq!(each.len(), span);
                    let at = self.weights.len();
                    self.weights.extend_from_slice(&each[..span]);
                    (0.0, at)
                }
            };
            // Below `start`, so it fits a u32; `parent.len` is at most `start`.
            self.block_edges.push(BlockEdge {
                parent: index as u32,
                parent_len: parent.len as u32,
                weight,
                weights,
            });
        }
        if self.block_edges.len() == first_edge || !self.make_room_for(len) {
            return CONSTANT;
        }
        // One block per node at most, so fewer than MAX_NODES: not OUT_OF_LINE.
        let block = self.blocks.len() as u32;
        self.blocks.push(Block {
            start: start as u32,
            len: len as u32,
            edges: (first_edge, self.block_edges.len()),
        });
        let element = Node {
            parents: [BLOCK, block],
            partials: [0.0; 2],
        };
        self.nodes[start..start + len].fill(element);
        self.len = start + len;
        self.base + start as u64
    }

    /// A vector whose element `i` is `reals[i]`: nodes in a row, one per element, each with its
    /// element as one parent (a constant element's node has none). The id of the first.
    fn gather(&mut self, reals: &[Real], location: &'static Location<'static>) -> u64 {
        if !self.active {
            return DETACHED;
        }
        if !self.make_room_for(reals.len()) {
            return CONSTANT;
        }
        let start = self.len;
        for (offset, real) in reals.iter().enumerate() {
            let index = (start + offset) as u32;
            let node = match self.index(*real) {
                Some(parent) => Node {
                    parents: [parent, index],
                    partials: [1.0, 0.0],
                },
                None => {
                    if !real.is_constant() {
                        self.poison(TapeError::Stale {
                            value: real.value,
                            location,
                        });
                    }
                    Node {
                        parents: [index; 2],
                        partials: [0.0; 2],
                    }
                }
            };
            self.nodes[start + offset] = node;
        }
        self.len = start + reals.len();
        self.base + start as u64
    }

    /// `count` new leaves in a row, the elements of a vector: the id of the first.
    fn leaves(&mut self, count: usize) -> u64 {
        if count == 0 || !self.active || !self.make_room_for(count) {
            return CONSTANT;
        }
        let start = self.len;
        self.nodes[start..start + count].fill(LEAF);
        self.len = start + count;
        self.base + start as u64
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
        self.next_id = self.base + self.len as u64;
        // `base + len` stays an id no `Real` has, as `record2` needs.
        self.base = self.next_id;
        self.active = false;
        self.len = 0;
        self.edges.clear();
        self.spans.clear();
        self.blocks.clear();
        self.block_edges.clear();
        self.weights.clear();
        self.poison = None;
    }

    fn leaf(&mut self, value: f64) -> Real {
        if !self.active || !self.make_room() {
            return Real::constant(value);
        }
        self.push(value, LEAF)
    }

    fn backward_into(
        &mut self,
        output: Real,
        wrt: &[Real],
        gradient: &mut Vec<f64>,
        location: &'static Location<'static>,
    ) -> Result<(), TapeError> {
        if !self.active {
            return Err(TapeError::Unavailable);
        }
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
            len,
            nodes,
            edges,
            spans,
            blocks,
            block_edges,
            weights,
            adjoints,
            ..
        } = self;
        adjoints.clear();
        adjoints.resize(*len, 0.0);
        if let Some(last) = output {
            adjoints[last] = 1.0;
            // The sweep takes a block whole: from its last element when the output is in one.
            let top = match nodes[last].parents {
                [BLOCK, block] => {
                    let block = blocks[block as usize];
                    (block.start + block.len - 1) as usize
                }
                _ => last,
            };
            let extra = Extra {
                edges,
                spans,
                blocks,
                block_edges,
                weights,
            };
            sweep(&nodes[..=top], &mut adjoints[..=top], extra);
        }
        gradient.extend(
            wrt.iter()
                .map(|variable| adjoints[(variable.id - *base) as usize]),
        );
        Ok(())
    }

    fn is_leaf(&self, index: usize) -> bool {
        self.nodes[index].parents == LEAF.parents
    }
}

/// What the backward sweep reads besides the nodes: the out-of-line parents of nodes and blocks.
struct Extra<'a> {
    edges: &'a [(u32, f64)],
    spans: &'a [(usize, usize)],
    blocks: &'a [Block],
    block_edges: &'a [BlockEdge],
    weights: &'a [f64],
}

/// The backward sweep: from the last of `nodes` down, adds each node's adjoint times its partials
/// to its parents' adjoints, and a block's all at once. `adjoints` has one per node, the last
/// one's set; the last node is not inside a block unless it ends one. The nodes between blocks
/// go through one tight loop ([`sweep_nodes`]), so a tape without blocks pays nothing for them.
#[inline(never)]
fn sweep(nodes: &[Node], adjoints: &mut [f64], extra: Extra<'_>) {
    let mut top = nodes.len();
    for &block in extra.blocks.iter().rev() {
        let (start, end) = (block.start as usize, (block.start + block.len) as usize);
        if end > top {
            continue;
        }
        sweep_nodes(&nodes[end..top], end, adjoints, &extra);
        sweep_block(block, &extra, adjoints);
        top = start;
    }
    sweep_nodes(&nodes[..top], 0, adjoints, &extra);
}

/// [`sweep`] over nodes that are not in a block, `nodes[i]` being node `base + i`.
fn sweep_nodes(nodes: &[Node], base: usize, adjoints: &mut [f64], extra: &Extra<'_>) {
    for (index, node) in (base..base + nodes.len()).rev().zip(nodes.iter().rev()) {
        let adjoint = adjoints[index];
        if adjoint == 0.0 {
            continue;
        }
        let [a, b] = node.parents;
        if a != OUT_OF_LINE {
            adjoints[a as usize] += adjoint * node.partials[0];
            adjoints[b as usize] += adjoint * node.partials[1];
        } else if b != OUT_OF_LINE {
            let (start, end) = extra.spans[b as usize];
            sweep_span(adjoint, &extra.edges[start..end], adjoints);
        }
    }
}

/// [`sweep`] for a block: one loop over contiguous adjoints per parent, each written over
/// slices of one length, which the compiler vectorises.
#[inline(never)]
fn sweep_block(block: Block, extra: &Extra<'_>, adjoints: &mut [f64]) {
    let (start, len) = (block.start as usize, block.len as usize);
    // Every parent is below the block.
    let (below, this) = adjoints.split_at_mut(start);
    let out = &this[..len];
    for edge in &extra.block_edges[block.edges.0..block.edges.1] {
        let (parent, parent_len) = (edge.parent as usize, edge.parent_len as usize);
        let span = len.max(parent_len);
        let weights = (edge.weights != ALL).then(|| &extra.weights[edge.weights..][..span]);
        if parent_len == len {
            let parents = &mut below[parent..][..len];
            match weights {
                Some(weights) => {
                    for i in 0..len {
                        parents[i] += out[i] * weights[i];
                    }
                }
                None => {
                    for i in 0..len {
                        parents[i] += out[i] * edge.weight;
                    }
                }
            }
        } else if parent_len == 1 {
            below[parent] += match weights {
                Some(weights) => dot(out, weights),
                None => edge.weight * sum_in_lanes(out.iter().copied()),
            };
        } else {
            let (adjoint, parents) = (out[0], &mut below[parent..][..parent_len]);
            match weights {
                Some(weights) => {
                    for i in 0..parent_len {
                        parents[i] += adjoint * weights[i];
                    }
                }
                None => {
                    for p in parents.iter_mut() {
                        *p += adjoint * edge.weight;
                    }
                }
            }
        }
    }
}

/// `sum_i a[i] b[i]`, in lanes ([`sum_in_lanes`]).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    sum_in_lanes(a.iter().zip(b).map(|(x, y)| x * y))
}

/// The sum of `terms` with term `i` added in lane `i mod 4`, the lanes added as
/// `(l0 + l1) + (l2 + l3)`: four independent sums, which pipeline, where a single running sum
/// is one long chain of dependent additions (four cycles each). The tape's sweep and
/// [`Reals::sum`](crate::Reals::sum) sum this way, and so do the distributions' batch scores, so
/// that a value and its gradient agree on one order.
///
/// ```
/// use pyro_tape::sum_in_lanes;
///
/// assert_eq!(sum_in_lanes([1.0, 2.0, 3.0, 4.0, 5.0]), 15.0);
/// assert_eq!(sum_in_lanes(std::iter::empty()), 0.0);
/// ```
#[inline]
pub fn sum_in_lanes(terms: impl IntoIterator<Item = f64>) -> f64 {
    let mut terms = terms.into_iter();
    let mut lanes = [0.0; 4];
    'terms: loop {
        for lane in &mut lanes {
            let Some(term) = terms.next() else {
                break 'terms;
            };
            *lane += term;
        }
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
}

/// [`sweep`] for a node with more than two parents: `edges`, and adjoint `adjoint`.
#[inline(never)]
fn sweep_span(adjoint: f64, edges: &[(u32, f64)], adjoints: &mut [f64]) {
    for &(parent, partial) in edges {
        adjoints[parent as usize] += adjoint * partial;
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
        BUFFERS
            .try_with(|_| ())
            .map_err(|_| TapeError::Unavailable)?;
        STATE.with(|state| state.borrow_mut().start())?;
        Ok(Tape {
            _thread_bound: PhantomData,
        })
    }

    /// Whether a gradient is being taken on this thread (a [`Tape`] is in scope): only then can
    /// a `Real` be tracked, so a caller may skip gradient work otherwise.
    ///
    /// ```
    /// use pyro_tape::Tape;
    ///
    /// assert!(!Tape::is_recording());
    /// let tape = Tape::start()?;
    /// assert!(Tape::is_recording());
    /// drop(tape);
    /// assert!(!Tape::is_recording());
    /// # Ok::<(), pyro_tape::TapeError>(())
    /// ```
    pub fn is_recording() -> bool {
        STATE
            .try_with(|state| state.borrow().active)
            .unwrap_or(false)
    }

    /// A new variable of this gradient, with value `value`: a leaf of the tape.
    pub fn leaf(&self, value: f64) -> Real {
        STATE.with(|state| state.borrow_mut().leaf(value))
    }

    /// A vector of new variables of this gradient, one per value: leaves in a row, so that the
    /// vector is one [`Reals`](crate::Reals) (its elements, from [`Reals::get`](crate::Reals::get)
    /// or [`Reals::iter`](crate::Reals::iter), are what [`backward`](Tape::backward) takes).
    ///
    /// ```
    /// use pyro_tape::Tape;
    ///
    /// let tape = Tape::start()?;
    /// let x = tape.leaves(vec![1.0, 2.0, 3.0]);
    /// let total = (&x * &x).sum();
    /// let wrt: Vec<_> = x.iter().collect();
    /// assert_eq!(tape.backward(total, &wrt)?, vec![2.0, 4.0, 6.0]);
    /// # Ok::<(), pyro_tape::TapeError>(())
    /// ```
    pub fn leaves(&self, values: Vec<f64>) -> crate::Reals {
        let first = STATE.with(|state| state.borrow_mut().leaves(values.len()));
        crate::Reals::from_parts(values, first)
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
        STATE.with(|state| {
            state
                .borrow_mut()
                .backward_into(output, wrt, gradient, location)
        })
    }
}

impl Drop for Tape {
    fn drop(&mut self) {
        STATE.with(|state| state.borrow_mut().finish());
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

    /// The addresses and sizes of this thread's buffers.
    fn buffers() -> [(usize, usize); 4] {
        STATE.with(|state| {
            let state = state.borrow();
            [
                (state.nodes.as_ptr() as usize, state.nodes.len()),
                (state.edges.as_ptr() as usize, state.edges.capacity()),
                (state.spans.as_ptr() as usize, state.spans.capacity()),
                (state.adjoints.as_ptr() as usize, state.adjoints.capacity()),
            ]
        })
    }

    /// The number of nodes recorded, and of their edges (parents that are not constants).
    fn nodes_and_edges() -> (usize, usize) {
        STATE.with(|state| {
            let state = state.borrow();
            let edges = state.nodes[..state.len]
                .iter()
                .enumerate()
                .map(|(index, node)| match node.parents {
                    [OUT_OF_LINE, OUT_OF_LINE] => 0,
                    [OUT_OF_LINE, span] => {
                        let (start, end) = state.spans[span as usize];
                        end - start
                    }
                    [a, b] => usize::from(a as usize != index) + usize::from(b as usize != index),
                })
                .sum();
            (state.len, edges)
        })
    }

    /// A gradient of 1502 nodes, 500 of them with their three parents out of line, enough to grow
    /// the buffers past their first size.
    fn chain(x: f64) -> Result<(f64, Vec<f64>), TapeError> {
        gradient(&[x, 2.0], |v| {
            let mut y = v[0];
            for _ in 0..500 {
                y = (y * v[1]).sin();
                y = Real::record(y.value(), &[(y, 1.0), (v[0], 0.5), (v[1], 0.25)]);
            }
            Ok::<_, TapeError>(y)
        })
    }

    #[test]
    fn buffers_are_reused_between_gradients() -> Result<(), TapeError> {
        chain(0.3)?;
        let grown = buffers();
        assert!(
            grown[0].1 >= 1502 && grown[1].1 >= 1500 && grown[2].1 >= 500,
            "{grown:?}"
        );
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

    #[test]
    fn operations_between_gradients_record_nothing() -> Result<(), TapeError> {
        // The first node of an ended gradient (id `base`) and a constant: the two-parent fast
        // path must not take it for a node of a tape with no nodes.
        let (first, second) = {
            let tape = Tape::start()?;
            (tape.leaf(2.0), tape.leaf(5.0))
        };
        for detached in [first * 3.0, 3.0 - first, first.exp(), first + second] {
            assert!(!detached.is_constant());
            assert_eq!(nodes_and_edges(), (0, 0));
        }
        let six = first * 3.0;
        assert_eq!(six.value(), 6.0);
        // The next gradient is unharmed, and the detached Real is stale in it.
        let tape = Tape::start()?;
        let x = tape.leaf(1.0);
        assert_eq!(nodes_and_edges(), (1, 0));
        let result = tape.backward(x * six, &[x]);
        assert!(
            matches!(result, Err(TapeError::Stale { value: 6.0, .. })),
            "{result:?}"
        );
        Ok(())
    }

    #[test]
    fn the_buffers_are_freed_when_the_thread_exits() {
        // What the buffers hold when `BUFFERS` is dropped: `State::NEW`'s empty ones.
        let (sender, receiver) = std::sync::mpsc::channel();
        struct Report(std::sync::mpsc::Sender<[usize; 4]>);
        impl Drop for Report {
            fn drop(&mut self) {
                let capacities = STATE.with(|state| {
                    let state = state.borrow();
                    [
                        state.nodes.capacity(),
                        state.edges.capacity(),
                        state.spans.capacity(),
                        state.adjoints.capacity(),
                    ]
                });
                let _ = self.0.send(capacities);
            }
        }
        thread_local! {
            static REPORT: RefCell<Option<Report>> = const { RefCell::new(None) };
        }
        std::thread::spawn(move || {
            // Registered before `BUFFERS` (at the first gradient), so dropped after it.
            REPORT.with(|report| *report.borrow_mut() = Some(Report(sender)));
            chain(0.5).expect("a gradient on a fresh thread");
            assert!(buffers().iter().all(|&(_, size)| size > 0));
        })
        .join()
        .expect("the thread exits cleanly");
        assert_eq!(receiver.recv(), Ok([0; 4]));
    }
}
