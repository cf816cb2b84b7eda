//! Properties of scoring and of the JSON round trip on random small traces.

use proptest::prelude::*;
use pyro_trace::distributions::{AnyDistribution, Bernoulli, Normal, Value};
use pyro_trace::{Mask, Name, Site, Trace, TraceError};

/// One random scalar site: a Normal or Bernoulli, a value (sometimes non-finite or of the wrong
/// type), a scale, a mask, latent or observed.
#[derive(Clone, Debug)]
struct SiteSpec {
    dist: AnyDistribution,
    value: Value,
    scale: f64,
    mask: Option<Mask>,
    observed: bool,
}

fn real() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => -10.0..10.0_f64,
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(f64::NAN),
    ]
}

fn normal_site() -> impl Strategy<Value = (AnyDistribution, Value)> {
    (-5.0..5.0_f64, 0.01..5.0_f64, real())
        .prop_map(|(loc, scale, x)| (Normal::new(loc, scale).unwrap().into(), Value::Real(x)))
}

fn bernoulli_site() -> impl Strategy<Value = (AnyDistribution, Value)> {
    let value = prop_oneof![
        4 => any::<bool>().prop_map(Value::Bool),
        1 => real().prop_map(Value::Real), // mostly the wrong type: -inf
    ];
    (prop_oneof![0.0..=1.0_f64, Just(0.0), Just(1.0)], value)
        .prop_map(|(p, v)| (Bernoulli::new(p).unwrap().into(), v))
}

fn mask() -> impl Strategy<Value = Option<Mask>> {
    prop_oneof![
        3 => Just(None),
        1 => any::<bool>().prop_map(|b| Some(Mask::All(b))),
        1 => any::<bool>().prop_map(|b| Some(Mask::Elements(vec![b].into()))),
    ]
}

fn scale() -> impl Strategy<Value = f64> {
    prop_oneof![3 => Just(1.0), 3 => 0.01..100.0_f64, 1 => Just(0.0)]
}

fn site_spec() -> impl Strategy<Value = SiteSpec> {
    (
        prop_oneof![normal_site(), bernoulli_site()],
        scale(),
        mask(),
        any::<bool>(),
    )
        .prop_map(|((dist, value), scale, mask, observed)| SiteSpec {
            dist,
            value,
            scale,
            mask,
            observed,
        })
}

fn build(specs: &[SiteSpec]) -> Trace {
    let mut trace = Trace::new();
    for (i, spec) in specs.iter().enumerate() {
        if i % 3 == 1 {
            // Params in between never count.
            let p = Site::param(Name::indexed("p", i as u64), Some(Value::Real(f64::NAN)));
            trace.add_node(p).unwrap();
        }
        let name = Name::indexed("s", i as u64);
        let mut site = if spec.observed {
            Site::observed(name, spec.dist.clone(), spec.value.clone())
        } else {
            let mut site = Site::sample(name, spec.dist.clone());
            site.value = Some(spec.value.clone());
            site
        };
        site.scale = spec.scale;
        site.mask = spec.mask.clone();
        trace.add_node(site).unwrap();
    }
    trace
}

/// The site's term computed directly from its definition, or `None` when it is NaN.
fn direct_term(spec: &SiteSpec) -> Option<f64> {
    let kept = match &spec.mask {
        None => true,
        Some(Mask::All(keep)) => *keep,
        Some(Mask::Elements(keep)) => keep[0],
    };
    if !kept {
        return Some(0.0);
    }
    let term = spec.scale * spec.dist.log_prob(&spec.value);
    (!term.is_nan()).then_some(term)
}

/// Equal results: the same bits (NaN equal to NaN), or both errors.
fn same(a: &Result<f64, TraceError>, b: &Result<f64, TraceError>) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
        (Err(_), Err(_)) => true,
        _ => false,
    }
}

proptest! {
    #[test]
    fn log_prob_sum_is_the_sum_of_site_terms(
        specs in prop::collection::vec(site_spec(), 0..8),
        observed_only in any::<bool>(),
    ) {
        let trace = build(&specs);
        let filter = |site: &Site| !observed_only || site.is_observed;
        let mut expected = Some(0.0);
        for spec in specs.iter().filter(|s| !observed_only || s.observed) {
            expected = match (expected, direct_term(spec)) {
                (Some(total), Some(term)) => Some(total + term),
                _ => None,
            };
        }
        let got = trace.log_prob_sum(filter);
        match expected {
            Some(total) => prop_assert_eq!(got.unwrap().to_bits(), total.to_bits()),
            None => {
                let is_log_prob_error = matches!(got, Err(TraceError::LogProb { .. }));
                prop_assert!(is_log_prob_error, "expected an error, got {:?}", got);
            }
        }
        // Caching changes nothing.
        let mut cached = trace.clone();
        if cached.compute_log_prob(|_| true).is_ok() {
            prop_assert!(same(&cached.log_prob_sum(filter), &trace.log_prob_sum(filter)));
        }
    }

    #[test]
    fn json_round_trip_keeps_log_prob_sum(
        specs in prop::collection::vec(site_spec(), 0..8),
    ) {
        let trace = build(&specs);
        let json = trace.to_json();
        let back = Trace::from_json(&json).unwrap();
        prop_assert_eq!(back.len(), trace.len());
        prop_assert!(same(&back.log_prob_sum(|_| true), &trace.log_prob_sum(|_| true)));
        for site in trace.iter() {
            let name = site.name.clone();
            prop_assert!(same(
                &back.log_prob_sum(|s| s.name == name),
                &trace.log_prob_sum(|s| s.name == name),
            ));
        }
        prop_assert_eq!(back.to_json(), json);
    }
}
