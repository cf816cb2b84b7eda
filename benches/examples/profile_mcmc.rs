//! Runs trace MH on one benchmark model and, for comparison, traces it as many times, for
//! profilers (`valgrind --tool=callgrind`): `cargo run --release -p pyro-benches --example
//! profile_mcmc -- m1 100000 [traced]` runs 100000 MH steps of M1 in one chain (or, with
//! `traced`, 100000 traced runs) and prints the time per step.

use pyro_benches::*;
use pyro_core::infer::{Mcmc, TraceMh};
use pyro_core::poutine::{Model, set_rng_seed, trace};

/// `steps` MH steps (or traced runs) of `model`; the time per step.
fn run<A: Clone + Sync + Send, M: Model<A> + Sync + Clone>(
    model: M,
    args: A,
    steps: usize,
    traced: bool,
) -> std::time::Duration
where
    M::Output: Send + Sync + 'static,
{
    let start = std::time::Instant::now();
    if traced {
        set_rng_seed(0);
        let t = trace(|()| model.call(args.clone()));
        for _ in 0..steps {
            std::hint::black_box(t.get_trace(()).expect("the model runs"));
        }
    } else {
        let run = Mcmc::new(TraceMh::new(model), 0, steps)
            .run(args)
            .expect("the model runs");
        std::hint::black_box(run);
    }
    start.elapsed() / steps as u32
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = args.get(1).map_or("m1", String::as_str);
    let steps: usize = args
        .get(2)
        .map_or(100_000, |a| a.parse().expect("a number of steps"));
    let traced = args.iter().any(|a| a == "traced");
    let (xy, flips) = (linreg_data(), coin_data());
    let per_step = match model {
        "m1" => run(scale, (), steps, traced),
        "m2" => run(linreg, &xy, steps, traced),
        "m3" => run(coin, &flips[..], steps, traced),
        "m4" => run(random_walk, (), steps, traced),
        other => panic!("unknown model {other}: m1, m2, m3 or m4"),
    };
    println!(
        "{model}: {steps} {}, {per_step:?} each",
        if traced { "traced runs" } else { "MH steps" }
    );
}
