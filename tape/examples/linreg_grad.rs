//! Times the value and gradient of the 103-site linear-regression log-density of issue 14
//! (`tests/support/linreg.rs`), with respect to its three latent sites:
//! - (a) by hand: the analytic gradient, plain `f64`;
//! - (b) `Real`, one node per operation (the Normal log-density written with operators);
//! - (c) `Real`, one recorded node per site (`Real::record` with the Normal's partials);
//! - (c') as (c), through the convenience function `gradient` (which allocates its leaves and
//!   its result);
//!
//! and the value alone: by hand, and the code of (b) on `f64` and on constant `Real`s (no
//! gradient: one branch per operation). On `f64` the compiler hoists the loop-invariant
//! `ln(sigma)` out of the loop over the sites; on `Real`s whose constness it cannot see it does
//! not, so the code of (b) is also timed on `f64` with one `ln` per site, as the `Real` code
//! computes it. Prints nanoseconds per evaluation (the median of 7 repeats) and each one's ratio
//! to (a), or for the value to the `f64` code.
//!
//! `cargo run --release -p pyro-tape --example linreg_grad [-- --fast]`
//!
//! With `-- --calls VARIANT N` (`VARIANT` one of `a`, `b`, `c`) it instead makes `N` calls of
//! that variant and prints nothing but their sum, for counting instructions: the difference of
//! two counts, as `valgrind --tool=callgrind target/release/examples/linreg_grad --calls c N`
//! reports them for two values of `N`, divided by the difference of the `N`s is the count of one
//! call, without the program's start.

#[path = "../tests/support/linreg.rs"]
mod linreg;

use pyro_tape::{Real, Tape, TapeError, gradient};
use std::hint::black_box;
use std::time::Instant;

/// The median over `repeats` of the nanoseconds per call of `f`, called `iterations` times.
fn time(repeats: usize, iterations: u32, mut f: impl FnMut() -> Result<f64, TapeError>) -> f64 {
    let mut samples = Vec::with_capacity(repeats);
    let mut sink = 0.0;
    for _ in 0..repeats {
        let start = Instant::now();
        for _ in 0..iterations {
            match f() {
                Ok(value) => sink += value,
                Err(error) => panic!("the benchmark's own gradient failed: {error}"),
            }
        }
        samples.push(start.elapsed().as_secs_f64() * 1e9 / f64::from(iterations));
    }
    black_box(sink);
    samples.sort_by(f64::total_cmp);
    samples[repeats / 2]
}

/// One value and gradient of the variant named `variant` at `point`, added up.
fn one_call(
    variant: &str,
    x: &[f64],
    y: &[f64],
    point: [f64; 3],
    leaves: &mut Vec<Real>,
    grad: &mut Vec<f64>,
) -> Result<f64, TapeError> {
    if variant == "a" {
        let mut hand_grad = [0.0; 3];
        let value = linreg::log_density_and_gradient(x, y, point, &mut hand_grad);
        return Ok(value + hand_grad[0]);
    }
    let model = match variant {
        "b" => linreg::per_op,
        "c" => linreg::per_site,
        _ => panic!("--calls VARIANT N: VARIANT is a, b or c, not {variant}"),
    };
    let tape = Tape::start()?;
    leaves.clear();
    leaves.extend(point.map(|p| tape.leaf(p)));
    let output = model(x, y, leaves);
    tape.backward_into(output, leaves, grad)?;
    Ok(output.value() + grad[0])
}

fn main() -> Result<(), TapeError> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, variant, calls] = &args[..]
        && flag == "--calls"
    {
        let (x, y) = linreg::data();
        let calls: u32 = calls.parse().expect("--calls VARIANT N: N a number");
        let (mut leaves, mut grad) = (Vec::with_capacity(3), Vec::with_capacity(3));
        let mut sum = 0.0;
        for _ in 0..calls {
            sum += one_call(
                variant,
                &x,
                &y,
                black_box([0.9, 1.8, -0.5]),
                &mut leaves,
                &mut grad,
            )?;
        }
        println!("{sum}");
        return Ok(());
    }
    let fast = args.iter().any(|arg| arg == "--fast");
    let (repeats, iterations) = if fast { (3, 2_000) } else { (7, 100_000) };
    let (x, y) = linreg::data();
    let point = [0.9, 1.8, -0.5];

    let mut hand_grad = [0.0; 3];
    let hand = time(repeats, iterations, || {
        let value = linreg::log_density_and_gradient(&x, &y, black_box(point), &mut hand_grad);
        Ok(value + hand_grad[0])
    });

    let mut leaves = Vec::with_capacity(3);
    let mut grad = Vec::with_capacity(3);
    let mut taped = |model: fn(&[f64], &[f64], &[Real]) -> Real| {
        time(repeats, iterations, || {
            let tape = Tape::start()?;
            leaves.clear();
            leaves.extend(black_box(point).map(|p| tape.leaf(p)));
            let output = model(&x, &y, &leaves);
            tape.backward_into(output, &leaves, &mut grad)?;
            Ok(output.value() + grad[0])
        })
    };
    let per_op = taped(linreg::per_op);
    let per_site = taped(linreg::per_site);
    let convenience = time(repeats, iterations, || {
        let (value, grad) = gradient(&black_box(point), |p| {
            Ok::<_, TapeError>(linreg::per_site(&x, &y, p))
        })?;
        Ok(value + grad[0])
    });

    let hand_value = time(repeats, iterations, || {
        Ok(linreg::log_density(&x, &y, black_box(point)))
    });
    let plain_value = time(repeats, iterations, || {
        Ok(linreg::per_op_f64(&x, &y, black_box(point), f64::ln))
    });
    let unhoisted_value = time(repeats, iterations, || {
        let ln = |scale: f64| black_box(scale).ln();
        Ok(linreg::per_op_f64(&x, &y, black_box(point), ln))
    });
    let constant_value = time(repeats, iterations, || {
        let p = black_box(point).map(Real::constant);
        Ok(linreg::per_op(&x, &y, &p).value())
    });

    println!("value and gradient of the 103-site regression log-density:");
    println!("  (a)  by hand              {hand:>9.0} ns   1.0x");
    for (name, ns) in [
        ("(b)  Real, node per op    ", per_op),
        ("(c)  Real, node per site  ", per_site),
        ("(c') (c) through gradient ", convenience),
    ] {
        println!("  {name}{ns:>9.0} ns  {:>4.1}x", ns / hand);
    }
    println!("value alone:");
    println!("  by hand                   {hand_value:>9.0} ns");
    println!("  as (b), on f64            {plain_value:>9.0} ns   1.0x");
    println!(
        "  the same, one ln per site {unhoisted_value:>9.0} ns  {:>4.1}x   1.0x",
        unhoisted_value / plain_value
    );
    println!(
        "  as (b), on constant Reals {constant_value:>9.0} ns  {:>4.1}x  {:>4.1}x",
        constant_value / plain_value,
        constant_value / unhoisted_value
    );
    Ok(())
}
