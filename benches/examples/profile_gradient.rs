//! Evaluates the log density and its gradient of M2 or M2v through `Potential`, for profilers
//! (`valgrind --tool=callgrind`): `cargo run --release -p pyro-benches --example
//! profile_gradient -- m2 100000` runs 100000 evaluations of M2 and prints the time of one;
//! `hand` runs the hand-written gradient of M2 instead, the baseline; `tape` and `tapev` run M2
//! and M2v written straight on the tape without handlers (`linreg_gradient_on_tape`, the floor
//! of a run through handlers). A third argument keeps only
//! the first `n` observations (`profile_gradient m2v 100000 1`: the fixed cost of a run).

use pyro_benches::*;
use pyro_core::infer::Potential;
use pyro_core::poutine::PyroRng;
use pyro_core::rand::SeedableRng;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("m2", String::as_str);
    let runs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let mut data = linreg_data();
    if let Some(n) = args.get(3).and_then(|s| s.parse::<usize>().ok()) {
        data.0.truncate(n);
        data.1.truncate(n);
    }
    let u = [0.9, 2.1, -0.7];
    if which == "hand" {
        let start = std::time::Instant::now();
        for _ in 0..runs {
            std::hint::black_box(linreg_gradient_by_hand(&data, std::hint::black_box(&u)));
        }
        println!("hand: {:?} per evaluation", start.elapsed() / runs as u32);
        return;
    }
    if which == "tape" || which == "tapev" {
        let (mut terms, mut grad) = (Vec::new(), Vec::new());
        let start = std::time::Instant::now();
        for _ in 0..runs {
            let u = std::hint::black_box(&u);
            let per_site = which == "tape";
            std::hint::black_box(linreg_gradient_on_tape(
                &data, u, per_site, &mut terms, &mut grad,
            ));
        }
        println!(
            "{which}: {:?} per evaluation",
            start.elapsed() / runs as u32
        );
        return;
    }
    let model: LinregModel = match which {
        "m2" => linreg,
        "m2v" => linreg_vec,
        other => panic!("unknown model {other}: m2, m2v, hand, tape or tapev"),
    };
    let potential =
        Potential::new(model, &&data, &mut PyroRng::seed_from_u64(0)).expect("the model runs");
    let mut grad = Vec::new();
    let start = std::time::Instant::now();
    for _ in 0..runs {
        let lp = potential
            .log_density(&&data, std::hint::black_box(&u), &mut grad)
            .expect("the density");
        std::hint::black_box(lp);
    }
    println!(
        "{which}: {:?} per evaluation",
        start.elapsed() / runs as u32
    );
}
