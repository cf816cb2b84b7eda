//! Traces the M2 `linreg` model in a loop, for profilers (`perf record`, `valgrind
//! --tool=callgrind`): `cargo run --release -p pyro-benches --example profile_trace -- 20000`
//! prints the mean time per trace.

use pyro_benches::{linreg, linreg_data};
use pyro_core::poutine::{set_rng_seed, trace};

fn main() {
    let runs: u32 = std::env::args()
        .nth(1)
        .map_or(20_000, |a| a.parse().expect("a number of runs"));
    let data = linreg_data();
    set_rng_seed(0);
    let traced = trace(|()| linreg(&data));
    let mut total = 0.0;
    let start = std::time::Instant::now();
    for _ in 0..runs {
        let tr = traced.get_trace(()).expect("linreg traces");
        total += tr.log_prob_sum(|_| true).expect("linreg scores");
    }
    println!(
        "{runs} traces, {:?} per trace (checksum {total})",
        start.elapsed() / runs
    );
}
