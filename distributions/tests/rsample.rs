//! Reparameterised sampling through the type-erased faces (`AnyDistribution`,
//! `ErasedDistribution`): which families have it, that it draws what `sample` draws, and that
//! the tracked reals it returns carry the gradient. Each family's own module checks its
//! gradients against finite differences.

use pyro_distributions::*;
use pyro_tape::Tape;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};

fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// One representative of each family that has `rsample`, with moderate parameters.
fn reparameterisable() -> Vec<AnyDistribution> {
    vec![
        Normal::new(1.0, 2.0).unwrap().into(),
        LogNormal::new(0.5, 0.7).unwrap().into(),
        HalfNormal::new(1.5).unwrap().into(),
        HalfCauchy::new(1.0).unwrap().into(),
        Cauchy::new(0.0, 1.0).unwrap().into(),
        StudentT::new(3.0, 1.0, 2.0).unwrap().into(),
        Laplace::new(0.0, 1.0).unwrap().into(),
        Gumbel::new(0.0, 2.0).unwrap().into(),
        Uniform::new(-1.0, 3.0).unwrap().into(),
        Exponential::new(2.0).unwrap().into(),
        Gamma::new(2.0, 3.0).unwrap().into(),
        InverseGamma::new(3.0, 2.0).unwrap().into(),
        Beta::new(2.0, 5.0).unwrap().into(),
        Chi2::new(3.0).unwrap().into(),
        Weibull::new(2.0, 1.5).unwrap().into(),
        Pareto::new(1.0, 2.0).unwrap().into(),
        Delta::new(0.25).unwrap().into(),
        Dirichlet::new([1.0, 2.0, 3.0]).unwrap().into(),
        MultivariateNormal::new(vec![0.0, 1.0], &[vec![2.0, 0.5], vec![0.5, 1.0]])
            .unwrap()
            .into(),
        AnyDistribution::custom(Batched::iid(Normal::new(0.0, 1.0).unwrap(), 3).unwrap()),
        AnyDistribution::custom(
            Batched::try_from_fn(2, |i| Gamma::new(1.0 + i as f64, 1.0)).unwrap(),
        ),
    ]
}

/// One representative of each family without it (Pyro's `has_rsample = False`).
fn not_reparameterisable() -> Vec<AnyDistribution> {
    vec![
        Bernoulli::new(0.3).unwrap().into(),
        Poisson::new(3.0).unwrap().into(),
        Binomial::new(10, 0.4).unwrap().into(),
        Geometric::new(0.3).unwrap().into(),
        NegativeBinomial::new(3.0, 0.4).unwrap().into(),
        BetaBinomial::new(2.0, 3.0, 10).unwrap().into(),
        Categorical::new([0.2, 0.5, 0.3]).unwrap().into(),
        VonMises::new(0.5, 2.0).unwrap().into(),
        AnyDistribution::custom(Batched::iid(Bernoulli::new(0.5).unwrap(), 3).unwrap()),
        AnyDistribution::custom(Batched::try_from_fn(2, |i| Poisson::new(1.0 + i as f64)).unwrap()),
    ]
}

#[test]
fn rsample_draws_what_sample_draws() {
    for d in reparameterisable() {
        assert!(d.has_rsample(), "{d:?}");
        for seed in 0..5 {
            let (mut r1, mut r2) = (rng(seed), rng(seed));
            let x = d.sample(&mut r1);
            let (y, tracked) = d.rsample(&mut r2).expect("has_rsample");
            assert_eq!(x, y, "{d:?}, seed {seed}");
            // Constant parameters: nothing is tracked.
            assert!(tracked.is_empty(), "{d:?}");
            assert_eq!(r1.next_u64(), r2.next_u64(), "{d:?}: other random numbers");
        }
    }
}

#[test]
fn families_without_rsample_draw_nothing() {
    for d in not_reparameterisable() {
        assert!(!d.has_rsample(), "{d:?}");
        assert!(!d.as_erased().can_rsample(), "{d:?}");
        let mut r = rng(11);
        assert_eq!(d.rsample(&mut r), None, "{d:?}");
        let mut erased_rng = rng(11);
        assert_eq!(d.as_erased().rsample_value(&mut erased_rng), None);
        assert_eq!(
            r.next_u64(),
            rng(11).next_u64(),
            "{d:?}: None drew random numbers"
        );
        assert_eq!(erased_rng.next_u64(), rng(11).next_u64());
    }
    // The typed face says the same.
    let b = Bernoulli::new(0.3).unwrap();
    assert!(!b.has_rsample());
    assert_eq!(b.rsample(&mut rng(0)), None);
}

#[test]
fn the_erased_draw_carries_the_gradient() -> Result<(), Box<dyn std::error::Error>> {
    let tape = Tape::start()?;
    let (loc, scale) = (tape.leaf(0.5), tape.leaf(2.0));

    // A scalar: one tracked real, which `take_tracked` reads back.
    let d: AnyDistribution = Normal::new(loc, scale)?.into();
    let (value, tracked) = d.rsample(&mut rng(3)).expect("Normal has rsample");
    assert_eq!(tracked.len(), 1);
    let x = Real::take_tracked(value.clone(), &tracked).expect("a real");
    assert_eq!(Value::Real(x.value()), value);
    let z = (x.value() - 0.5) / 2.0;
    let g = tape.backward(x, &[loc, scale])?;
    assert_eq!(g[0], 1.0);
    assert!((g[1] - z).abs() < 1e-15);

    // A batch behind the erased trait object: one tracked real per element.
    let b = Batched::iid(Normal::new(loc, scale)?, 3)?;
    let erased: &dyn ErasedDistribution = &b;
    let mut r = rng(4);
    let (value, tracked) = erased.rsample_value(&mut r).expect("a batch of normals");
    assert!(erased.can_rsample());
    assert_eq!(tracked.len(), 3);
    let xs = Reals::take_tracked(value.clone(), &tracked).expect("reals");
    assert_eq!(Value::from(xs.clone()), value);
    let want = b.sample(&mut rng(4));
    assert_eq!(Value::from(want), value);
    for x in xs.iter() {
        assert_eq!(tape.backward(x, &[loc, scale])?[0], 1.0);
    }

    // A Dirichlet draw tracks every coordinate, which sum to one, so their gradients do to 0.
    let a = [tape.leaf(1.0), tape.leaf(2.0), tape.leaf(3.0)];
    let d: AnyDistribution = Dirichlet::new(a)?.into();
    let (_, tracked) = d.rsample(&mut rng(5)).expect("Dirichlet has rsample");
    let sum: Real = tracked.iter().sum();
    assert!(tape.backward(sum, &a)?.iter().all(|g| g.abs() < 1e-15));
    Ok(())
}

/// The families that now draw with their own formula (the one `rsample` shares) draw what the
/// `rand_distr` samplers they used to call draw, bit for bit.
#[test]
fn draws_are_those_of_rand_distr() {
    fn same(
        mut ours: impl FnMut(&mut Xoshiro256PlusPlus) -> f64,
        theirs: impl Fn(&mut Xoshiro256PlusPlus) -> f64,
    ) {
        let (mut r1, mut r2) = (rng(21), rng(21));
        for _ in 0..2000 {
            assert_eq!(ours(&mut r1).to_bits(), theirs(&mut r2).to_bits());
        }
    }
    let d = Cauchy::new(2.0, 0.5).unwrap();
    let s = rand_distr::Cauchy::new(2.0, 0.5).unwrap();
    same(|r| d.sample(r).value(), |r| r.sample(s));
    let d = HalfCauchy::new(0.5).unwrap();
    let s = rand_distr::Cauchy::new(0.0, 0.5).unwrap();
    same(|r| d.sample(r).value(), |r| f64::abs(r.sample(s)));
    let d = LogNormal::new(0.3, 1.5).unwrap();
    let s = rand_distr::LogNormal::new(0.3, 1.5).unwrap();
    same(|r| d.sample(r).value(), |r| r.sample(s));
    let d = Exponential::new(3.5).unwrap();
    let s = rand_distr::Exp::new(3.5).unwrap();
    same(|r| d.sample(r).value(), |r| r.sample(s));
    let d = Gumbel::new(-1.0, 2.0).unwrap();
    let s = rand_distr::Gumbel::new(-1.0, 2.0).unwrap();
    same(|r| d.sample(r).value(), |r| r.sample(s));
    let d = Weibull::new(2.0, 0.7).unwrap();
    let s = rand_distr::Weibull::new(2.0, 0.7).unwrap();
    same(|r| d.sample(r).value(), |r| r.sample(s));
    let d = Pareto::new(1.5, 3.0).unwrap();
    let s = rand_distr::Pareto::new(1.5, 3.0).unwrap();
    same(|r| d.sample(r).value(), |r| r.sample(s));
    let d = StudentT::new(3.0, 1.0, 2.0).unwrap();
    let s = rand_distr::StudentT::new(3.0).unwrap();
    same(|r| d.sample(r).value(), |r| 1.0 + 2.0 * r.sample(s));
    let d = Uniform::new(-1.0, 3.0).unwrap();
    let s = rand::distr::Uniform::new(-1.0, 3.0).unwrap();
    same(|r| d.sample(r).value(), |r| r.sample(s));
}
