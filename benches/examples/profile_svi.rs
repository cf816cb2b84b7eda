//! Runs SVI steps on M1 or M2 (AutoNormal, one particle, Adam 0.05), for profilers
//! (`valgrind --tool=callgrind`): `cargo run --release -p pyro-benches --example profile_svi --
//! m2 20000` runs 20000 steps of M2 and prints the time of one.

use pyro_benches::*;
use pyro_core::infer::{Adam, AutoNormal, Svi, TraceElbo};
use pyro_core::poutine::{PyroError, PyroRng, with_param_store};
use pyro_core::rand::SeedableRng;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("m2", String::as_str);
    let steps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let data = linreg_data();
    with_param_store(|s| s.clear());
    let start = match which {
        "m1" => run(scale, &(), steps),
        "m2" => run(linreg, &&data, steps),
        other => panic!("unknown model {other}: m1 or m2"),
    };
    println!("{which}: {:?} per step", start / steps as u32);
}

/// The time of `steps` SVI steps of `model` at `args`.
fn run<A: Clone, R>(
    model: fn(A) -> Result<R, PyroError>,
    args: &A,
    steps: usize,
) -> std::time::Duration
where
    fn(A) -> Result<R, PyroError>: pyro_core::poutine::Model<A> + Clone,
{
    let guide = AutoNormal::new(&model, args, &mut PyroRng::seed_from_u64(0))
        .expect("the model has continuous latents");
    let adam = Adam::new(0.05).expect("a valid rate");
    let mut svi = Svi::new(model, guide, adam, TraceElbo::new()).seed(0);
    let start = std::time::Instant::now();
    svi.run(args, steps).expect("SVI runs");
    start.elapsed()
}
