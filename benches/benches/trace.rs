//! Cost of tracing the M1, M2 and M3 models of `shared/BENCH.md` (one run under `trace`, then the
//! trace's log joint), against the hand-written loop doing the same draws and arithmetic.
//!
//! Groups `trace_m1`, `trace_m2`, `trace_m3`, each with `pyro` and `baseline`; `cargo xtask bench`
//! prints the ratio and the handler overhead per site, `(pyro - baseline) / sites`.

use criterion::{Criterion, criterion_group, criterion_main};
use pyro_benches::{coin, coin_by_hand, coin_data, linreg, linreg_by_hand, linreg_data};
use pyro_benches::{scale, scale_by_hand};
use pyro_core::poutine::{set_rng_seed, trace};
use pyro_core::rand::SeedableRng;
use pyro_core::rand::rngs::Xoshiro256PlusPlus;
use std::hint::black_box;

fn m1(c: &mut Criterion) {
    let mut group = c.benchmark_group("trace_m1");
    set_rng_seed(0);
    let traced = trace(scale);
    group.bench_function("pyro", |b| {
        b.iter(|| {
            let tr = traced.get_trace(()).unwrap();
            black_box(tr.log_prob_sum(|_| true).unwrap())
        })
    });
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    group.bench_function("baseline", |b| {
        b.iter(|| {
            let run = scale_by_hand(&mut rng);
            black_box(run.log_prior + run.log_lik)
        })
    });
    group.finish();
}

fn m2(c: &mut Criterion) {
    let mut group = c.benchmark_group("trace_m2");
    let data = linreg_data();
    set_rng_seed(0);
    let traced = trace(|()| linreg(&data));
    group.bench_function("pyro", |b| {
        b.iter(|| {
            let tr = traced.get_trace(()).unwrap();
            black_box(tr.log_prob_sum(|_| true).unwrap())
        })
    });
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    group.bench_function("baseline", |b| {
        b.iter(|| {
            let run = linreg_by_hand(&mut rng, &data);
            black_box(run.log_prior + run.log_lik)
        })
    });
    group.finish();
}

fn m3(c: &mut Criterion) {
    let mut group = c.benchmark_group("trace_m3");
    let data = coin_data();
    set_rng_seed(0);
    let traced = trace(|()| coin(&data));
    group.bench_function("pyro", |b| {
        b.iter(|| {
            let tr = traced.get_trace(()).unwrap();
            black_box(tr.log_prob_sum(|_| true).unwrap())
        })
    });
    let prior = rand_distr::Beta::new(10.0, 10.0).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    group.bench_function("baseline", |b| {
        b.iter(|| {
            let run = coin_by_hand(&mut rng, &prior, &data);
            black_box(run.log_prior + run.log_lik)
        })
    });
    group.finish();
}

criterion_group!(benches, m1, m2, m3);
criterion_main!(benches);
