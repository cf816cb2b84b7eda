use pyro_benches::{linreg, linreg_data};
use pyro_core::poutine::{set_rng_seed, trace};
fn main() {
    let data = linreg_data();
    set_rng_seed(0);
    let t = trace(linreg);
    let mut acc = 0.0;
    let start = std::time::Instant::now();
    let n: u32 = std::env::args().nth(1).map_or(20000, |a| a.parse().unwrap());
    for _ in 0..n {
        let tr = t.get_trace(&data).unwrap();
        acc += tr.log_prob_sum(|_| true).unwrap();
    }
    println!("{acc} {:?}", start.elapsed() / n);
}
