//! Streams importance sampling of a benchmark model, for profilers:
//! `cargo run --release -p pyro-benches --example profile_importance -- [m1|m2|m2v|m3|m3v] 100000`.

use pyro_benches::{coin, coin_data, coin_vec, linreg, linreg_data, linreg_vec, scale};
use pyro_core::infer::{Importance, InferError, StreamingPosterior};
use pyro_core::poutine::Name;

fn main() -> Result<(), InferError> {
    let args: Vec<String> = std::env::args().collect();
    let model = args.get(1).map_or("m1", String::as_str);
    let particles: usize = args
        .get(2)
        .map_or(100_000, |a| a.parse().expect("a number"));
    let (xy, flips) = (linreg_data(), coin_data());
    let start = std::time::Instant::now();
    let site = |s: &'static str| [Name::from(s)];
    let post: StreamingPosterior = match model {
        "m1" => Importance::new(scale, particles).run_streaming((), &site("weight"))?,
        "m2" => Importance::new(linreg, particles).run_streaming(&xy, &site("b"))?,
        "m2v" => Importance::new(linreg_vec, particles).run_streaming(&xy, &site("b"))?,
        "m3v" => Importance::new(coin_vec, particles).run_streaming(&flips[..], &site("p"))?,
        _ => Importance::new(coin, particles).run_streaming(&flips[..], &site("p"))?,
    };
    let elapsed = start.elapsed();
    println!(
        "{model}: {particles} particles in {elapsed:?} ({:.3e} per second); log evidence {:.4}",
        particles as f64 / elapsed.as_secs_f64(),
        post.log_normalizer()?
    );
    Ok(())
}
