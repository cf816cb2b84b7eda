//! Streams importance sampling of the M1 `scale` model, for profilers:
//! `cargo run --release -p pyro-benches --example profile_importance -- 1000000`.

use pyro_benches::scale;
use pyro_core::infer::Importance;
use pyro_core::poutine::Name;

fn main() {
    let particles: usize = std::env::args()
        .nth(1)
        .map_or(1_000_000, |a| a.parse().expect("a number of particles"));
    let start = std::time::Instant::now();
    let post = Importance::new(scale, particles)
        .run_streaming((), &[Name::from("weight")])
        .expect("scale runs");
    let elapsed = start.elapsed();
    println!(
        "{particles} particles in {elapsed:?}: {:.2} M particles/s; log evidence {:.5}, mean {:.5}",
        particles as f64 / elapsed.as_secs_f64() / 1e6,
        post.log_normalizer().unwrap(),
        post.mean(&Name::from("weight")).unwrap()[0]
    );
}
