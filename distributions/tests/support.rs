//! Properties every family shares, checked through the type-erased `AnyDistribution`: draws lie in
//! the support and score finitely; values of the wrong kind, or outside the support, score
//! exactly `-inf`; `log_prob` never returns NaN.

use pyro_distributions::*;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

/// One representative of each family, with moderate parameters.
fn families() -> Vec<AnyDistribution> {
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
        VonMises::new(0.5, 2.0).unwrap().into(),
        Delta::new(0.25).unwrap().into(),
        Bernoulli::new(0.3).unwrap().into(),
        Binomial::new(10, 0.3).unwrap().into(),
        Categorical::new([0.2, 0.5, 0.3]).unwrap().into(),
        Poisson::new(3.0).unwrap().into(),
        Geometric::new(0.3).unwrap().into(),
        NegativeBinomial::new(5.0, 0.4).unwrap().into(),
        BetaBinomial::new(2.0, 3.0, 10).unwrap().into(),
        Dirichlet::new([1.0, 2.0, 3.0]).unwrap().into(),
        MultivariateNormal::new(vec![0.0, 1.0], &[vec![2.0, 0.5], vec![0.5, 1.0]])
            .unwrap()
            .into(),
        AnyDistribution::custom(Batched::iid(Gamma::new(2.0, 1.0).unwrap(), 3).unwrap()),
    ]
}

/// Values of every kind, some in and some outside any support.
fn probes() -> Vec<Value> {
    let mut v = vec![
        Value::Bool(true),
        Value::Bool(false),
        Value::Reals(vec![]),
        Value::Reals(vec![0.5, 0.5]),
        Value::Reals(vec![0.2, 0.3, 0.5]),
        Value::Reals(vec![0.0, 0.5, 0.5]),
        Value::Reals(vec![-0.1, 0.6, 0.5]),
        Value::Reals(vec![f64::NAN, 1.0, 2.0]),
        Value::Ints(vec![1, 2, 3]),
        Value::Bools(vec![true]),
    ];
    for x in [
        -1e300, -3.5, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 2.0, 2.5, 7.0, 1e300,
    ] {
        v.push(Value::Real(x));
    }
    for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        v.push(Value::Real(x));
    }
    for k in [-3, -1, 0, 1, 2, 5, 1000] {
        v.push(Value::Int(k));
    }
    v
}

#[test]
fn draws_are_in_the_support_and_score_finitely() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
    for d in families() {
        for _ in 0..2000 {
            let x = d.sample(&mut rng);
            assert!(
                d.support().contains(&x),
                "{d:?}: draw {x:?} outside {}",
                d.support()
            );
            let lp = d.log_prob(&x);
            assert!(
                lp > f64::NEG_INFINITY && !lp.is_nan(),
                "{d:?}: log_prob({x:?}) = {lp}"
            );
        }
    }
}

#[test]
fn outside_the_support_is_exactly_minus_infinity_and_never_nan() {
    for d in families() {
        for x in probes() {
            let lp = d.log_prob(&x);
            assert!(!lp.is_nan(), "{d:?}: log_prob({x:?}) is NaN");
            if !d.support().contains(&x) {
                assert_eq!(
                    lp,
                    f64::NEG_INFINITY,
                    "{d:?}: log_prob({x:?}) outside the support"
                );
            }
        }
    }
}
