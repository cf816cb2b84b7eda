//! Per-call cost of `sample` + `log_prob` for Normal, Gamma, Beta and Poisson, against calling
//! `rand_distr` directly and scoring with hand-written arithmetic (the floor).
//!
//! Each benchmark group has two functions, `pyro` and `baseline`; `cargo xtask bench` reads
//! criterion's estimates and prints the ratio `pyro / baseline` per family.

use criterion::{Criterion, criterion_group, criterion_main};
use pyro_core::distributions::{self as dist, Distribution};
use pyro_core::rand::SeedableRng;
use pyro_core::rand::rngs::Xoshiro256PlusPlus;
use rand::RngExt;
use std::hint::black_box;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

fn rng() -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(0)
}

/// Benchmarks `pyro` (our sample + log_prob) against `baseline` under the group `name`.
fn pair<D: Distribution>(
    c: &mut Criterion,
    name: &str,
    ours: &D,
    mut baseline: impl FnMut(&mut Xoshiro256PlusPlus) -> f64,
) {
    let mut group = c.benchmark_group(name);
    let mut r = rng();
    group.bench_function("pyro", |b| {
        b.iter(|| {
            let x = ours.sample(&mut r);
            black_box(ours.log_prob(black_box(&x)))
        })
    });
    let mut r = rng();
    group.bench_function("baseline", |b| b.iter(|| black_box(baseline(&mut r))));
    group.finish();
}

fn normal(c: &mut Criterion) {
    let (loc, scale) = (1.0, 2.0);
    let ours = dist::Normal::new(loc, scale).unwrap();
    let sampler = rand_distr::Normal::new(loc, scale).unwrap();
    let ln_scale = scale.ln();
    pair(c, "normal", &ours, move |r| {
        let x: f64 = r.sample(sampler);
        let z = (black_box(x) - loc) / scale;
        -0.5 * z * z - ln_scale - LN_SQRT_2PI
    });
}

fn gamma(c: &mut Criterion) {
    let (a, rate) = (2.5, 1.5);
    let ours = dist::Gamma::new(a, rate).unwrap();
    let sampler = rand_distr::Gamma::new(a, 1.0 / rate).unwrap();
    let norm = a * rate.ln() - libm::lgamma(a);
    pair(c, "gamma", &ours, move |r| {
        let x: f64 = black_box(r.sample(sampler));
        (a - 1.0) * x.ln() - rate * x + norm
    });
}

fn beta(c: &mut Criterion) {
    let (a, b) = (2.0, 5.0);
    let ours = dist::Beta::new(a, b).unwrap();
    let sampler = rand_distr::Beta::new(a, b).unwrap();
    let norm = libm::lgamma(a + b) - libm::lgamma(a) - libm::lgamma(b);
    pair(c, "beta", &ours, move |r| {
        let x: f64 = black_box(r.sample(sampler));
        (a - 1.0) * x.ln() + (b - 1.0) * (-x).ln_1p() + norm
    });
}

fn poisson(c: &mut Criterion) {
    let rate = 3.5;
    let ours = dist::Poisson::new(rate).unwrap();
    let sampler = rand_distr::Poisson::new(rate).unwrap();
    let ln_rate = rate.ln();
    pair(c, "poisson", &ours, move |r| {
        let k: f64 = black_box(r.sample(sampler));
        k * ln_rate - rate - libm::lgamma(k + 1.0)
    });
}

criterion_group!(benches, normal, gamma, beta, poisson);
criterion_main!(benches);
