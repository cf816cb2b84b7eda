//! Streams importance sampling of a benchmark model, or runs its hand-written loop, for
//! profilers: `cargo run --release -p pyro-benches --example profile_importance --
//! [m1|m2|m2v|m3|m3v|m3c|m4] 100000 [hand]`.

use pyro_benches::*;
use pyro_core::poutine::condition;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = args.get(1).map_or("m1", String::as_str);
    let n: usize = args
        .get(2)
        .map_or(100_000, |a| a.parse().expect("a number"));
    let hand = args.get(3).is_some_and(|a| a == "hand");
    let (xy, flips) = (linreg_data(), coin_data());
    let beta = rand_distr::Beta::new(10.0, 10.0).expect("Beta(10, 10)");
    let geometric = rand_distr::Geometric::new(0.3).expect("Geometric(0.3)");
    let start = std::time::Instant::now();
    let estimate = match (model, hand) {
        ("m1", false) => library(scale, (), "weight", n),
        ("m1", true) => by_hand(n, scale_by_hand),
        ("m2", false) => library(linreg, &xy, "b", n),
        ("m2v", false) => library(linreg_vec, &xy, "b", n),
        ("m2" | "m2v", true) => by_hand(n, |r| linreg_by_hand(r, &xy)),
        ("m3", false) => library(coin, &flips[..], "p", n),
        ("m3v", false) => library(coin_vec, &flips[..], "p", n),
        ("m3c", false) => library(
            condition(coin_unobserved, coin_data_conditioned(&flips)),
            &flips[..],
            "p",
            n,
        ),
        ("m3" | "m3v" | "m3c", true) => by_hand(n, |r| coin_by_hand(r, &beta, &flips)),
        ("m4", false) => library(random_walk, (), "n", n),
        ("m4", true) => by_hand(n, |r| random_walk_by_hand(r, &geometric)),
        _ => panic!("unknown model {model}: expected m1, m2, m2v, m3, m3v, m3c or m4"),
    };
    let elapsed = start.elapsed();
    println!(
        "{model}{}: {n} particles in {elapsed:?} ({:.3e} per second); mean {:.4}, log evidence {:.4}",
        if hand { " by hand" } else { "" },
        n as f64 / elapsed.as_secs_f64(),
        estimate.mean,
        estimate.log_evidence
    );
}
