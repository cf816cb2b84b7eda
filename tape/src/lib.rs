//! Reverse-mode gradients for pyro-rs: one scalar type, [`Real`], and a thread-local tape.
//!
//! Model code written with `Real` reads as model code written with `f64`: `Real` has the
//! arithmetic operators with `Real` or `f64` on either side and the elementary functions a
//! log-density or a bijection needs. Outside a gradient every `Real` is a constant, and costs what
//! an `f64` costs plus one branch. Inside one, operations record nodes on a tape, and one backward
//! sweep gives the gradient.
//!
//! # Quick start
//! ```
//! use pyro_tape::{Real, Tape, TapeError, gradient};
//!
//! // A log-density written with Real: Normal(mu, sigma) at y = 1.5, with sigma = e^s.
//! fn log_density(mu: Real, s: Real) -> Real {
//!     let sigma = s.exp();
//!     let z = (1.5 - mu) / sigma;
//!     -0.5 * z * z - sigma.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
//! }
//!
//! // Its value and gradient with respect to (mu, s) at (0.5, 0): z = 1, so the gradient is
//! // (z / sigma, z² - 1) = (1, 0).
//! let (value, grad) = gradient(&[0.5, 0.0], |p| Ok::<_, TapeError>(log_density(p[0], p[1])))?;
//! assert!((value + 0.5 + 0.5 * (2.0 * std::f64::consts::PI).ln()).abs() < 1e-15);
//! assert_eq!(grad, vec![1.0, 0.0]);
//!
//! // Outside a gradient the same code runs on constants: plain f64 arithmetic.
//! assert_eq!(log_density(Real::constant(0.5), Real::constant(0.0)).value(), value);
//!
//! // The scope form: variables made one by one (as a model's latent sites appear), a node with
//! // its own partials (as a distribution records its log-density), one backward sweep.
//! let tape = Tape::start()?;
//! let a = tape.leaf(2.0);
//! let b = tape.leaf(3.0);
//! let ab = Real::record(a.value() * b.value(), &[(a, b.value()), (b, a.value())]);
//! assert_eq!(tape.backward(ab + a, &[a, b])?, vec![4.0, 2.0]);
//! # Ok::<(), TapeError>(())
//! ```
//!
//! # Design
//!
//! **Why a tape of its own.** Existing Rust AD crates were measured on the value and gradient of
//! a 103-site linear-regression log-density: hand-written code takes 110-154 ns; `num-dual`
//! (forward mode) 0.6 µs with a dimension known at compile time but 42 µs with one known at run
//! time, as a model's is; `echidna`, `ad_trait` and `reverse` 16-22 µs; `candle` 1.7 ms. A
//! purpose-built reverse tape on which each distribution records one node with its own partials
//! reached 2.4-3.0 µs, with no dependency. This crate is that tape. It takes 1.9-2.1 µs with one
//! recorded node per site (13-15 times the hand-written code) and 5.8-6.1 µs with one node per
//! operation, on a machine where the hand-written code takes 140-180 ns; its first version took
//! 3.3-3.6 µs and 8 µs (`cargo run --release -p pyro-tape --example linreg_grad` measures it; under
//! callgrind, one value and gradient is 37,000 instructions with one node per site, 62,000 in the
//! first version, against 1,700 by hand).
//!
//! **One node per distribution, with its own partials.** A node stores its parents and the
//! partial derivative with respect to each: one or two inline, in the node itself (24 bytes: all
//! an elementary operation needs, and all a log-density with at most two tracked arguments
//! needs), and more as a range of one flat `Vec<(parent, partial)>`: a node with 1, 2 or 100
//! parents is one node. Elementary operations record one node each, with their known
//! derivatives. But a caller that knows its own partials records a whole computation as one node
//! with [`Real::record`]: a distribution's `log_prob` is one node with its analytic partials with
//! respect to the value and each parameter, a vectorised site one node for its whole batch, as
//! Stan's "precomputed gradients" vari. Recording a node is one access to the thread-local tape,
//! without a lazy-initialisation check, and one check per parent that it is a node of this tape
//! or a constant. The backward sweep is one pass over the nodes from the output down,
//! accumulating adjoints, two multiply-adds per inline node without a branch; its buffers are
//! kept between gradients, so that a gradient allocates nothing once they have grown.
//!
//! **Vectors are blocks.** [`Reals`] holds a vector's values as one `Vec<f64>` and, while a
//! gradient is taken, one id: its elements are consecutive nodes. Element-wise arithmetic on it
//! (with scalars, data slices or other vectors) and its functions record one *block* per
//! operation: the run of element nodes and a few edges, each to a scalar or a vector parent with
//! one partial for all elements or one per element. So `a + b * &xs` over 100 data points
//! records two blocks, and a batched log-density one node with one edge per vector input; the
//! sweep takes a block whole, one loop over contiguous adjoints per edge, the way a tensor
//! library's backward pass does. Between blocks the sweep runs the scalar nodes in the loop
//! above, so a tape without vectors pays nothing for them. On M2v (the regression's 100
//! observations as one vectorised site), blocks took the value and gradient from 42,000
//! instructions (two nodes per element and a 100-edge log-density) to 14,600.
//!
//! **Constants cost one branch.** A `Real` is `Copy` and 16 bytes: an `f64` and a 64-bit node
//! id. A constant has id 0, and an operation whose operands are all constants computes its value
//! and nothing else, without touching the tape; partials are computed only when recorded. So
//! `Normal::new(a + b * x, sigma)` with `x: f64` is cheap outside a gradient, and inside one
//! `b * x` records a single-parent node. Folding constant factors into the `Real` instead (a
//! third word, so that `b * x` records nothing and `a + b * x` one node) was measured: M2's
//! value and gradient took 8% longer (4.0 µs against 3.7 µs) although it ran 5% fewer
//! instructions, because a 24-byte `Real` goes through memory wherever it crosses a call.
//!
//! **Generation tags.** Node ids are never reused: each gradient ([`Tape::start`], or
//! [`gradient`]) numbers its nodes on from where the previous one on its thread stopped, within a
//! range of ids that the thread reserved for itself. The id range of a gradient is its generation
//! tag, and a node id is the tag and the index in one word. A `Real` kept from an earlier
//! gradient, or sent from another thread, can therefore never be mistaken for a node of the
//! current tape: an operation that reads one marks the tape, and [`Tape::backward`] returns
//! [`TapeError::Stale`] naming its value and where it was used. The result is an error, never a
//! wrong number and never a panic. Operations on such a `Real` outside any gradient still give the
//! right value. Gradients do not nest: starting one while another is taken on the same thread is
//! [`TapeError::Nested`].

mod error;
mod ops;
mod real;
mod reals;
mod tape;

pub use error::TapeError;
pub use real::Real;
pub use reals::{Iter, Parent, Reals, Weights};
pub use tape::{Tape, gradient, sum_in_lanes};
