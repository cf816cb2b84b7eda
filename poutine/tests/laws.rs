//! Laws of the effect handlers, checked with proptest over randomly generated small models and
//! handler compositions.
//!
//! A model is a list of site specs ([`Spec`]) interpreted by [`interpret`]: each latent Normal's
//! location drifts with the values drawn before it, so values flow from site to site. A
//! composition is a list of handlers ([`H`]), outermost first, installed around the model in
//! their scope form by [`run_under`]. Each property runs at most 256 cases.

use proptest::prelude::*;
use pyro_poutine::distributions::{Bernoulli, Constraint, Normal, Value};
use pyro_poutine::{
    BlockMessenger, ConditionMessenger, Handler, MaskMessenger, PyroError, ScaleMessenger,
    SeedMessenger, SiteKind, Trace, TraceMessenger, UnconditionMessenger, condition, observe,
    param, replay, sample, scale, seed, set_rng_seed, stack_depth, trace,
};
use std::collections::HashMap;

type Res<T> = Result<T, PyroError>;

/// Names of sample sites; a valid model gives its i-th sample site the i-th name.
const SAMPLE_NAMES: [&str; 6] = ["s0", "s1", "s2", "s3", "s4", "s5"];
/// Names of params (distinct from the sample names in valid models; unique to this file, since
/// the parameter store is process-global).
const PARAM_NAMES: [&str; 2] = ["laws_p0", "laws_p1"];
/// A name no model uses.
const ABSENT: &str = "absent";

/// One site of a generated model.
#[derive(Clone, Debug)]
enum Spec {
    /// `sample(name, Normal(loc + drift, scale))`.
    Latent {
        name: &'static str,
        loc: f64,
        scale: f64,
    },
    /// `sample(name, Bernoulli(p))`.
    Coin { name: &'static str, p: f64 },
    /// `observe(name, Normal(loc + drift, scale), value)`.
    Observed {
        name: &'static str,
        loc: f64,
        scale: f64,
        value: f64,
    },
    /// `param(name, init, Real)`.
    Param { name: &'static str, init: f64 },
    /// `sample(name, Normal(0, -1))`: an invalid parameter.
    Invalid { name: &'static str },
}

impl Spec {
    fn name(&self) -> &'static str {
        match self {
            Spec::Latent { name, .. }
            | Spec::Coin { name, .. }
            | Spec::Observed { name, .. }
            | Spec::Param { name, .. }
            | Spec::Invalid { name } => name,
        }
    }

    fn kind(&self) -> SiteKind {
        match self {
            Spec::Param { .. } => SiteKind::Param,
            _ => SiteKind::Sample,
        }
    }
}

/// Runs the model described by `specs`; returns the sum of the values (a bool counts 0 or 1).
fn interpret(specs: &[Spec]) -> Res<f64> {
    let mut acc: f64 = 0.0;
    for spec in specs {
        let drift = acc.tanh();
        acc += match *spec {
            Spec::Latent { name, loc, scale } => {
                sample(name, Normal::new(loc + drift, scale))?.value()
            }
            Spec::Coin { name, p } => f64::from(u8::from(sample(name, Bernoulli::new(p))?)),
            Spec::Observed {
                name,
                loc,
                scale,
                value,
            } => observe(name, Normal::new(loc + drift, scale), value)?.value(),
            Spec::Param { name, init } => param(name, init, Constraint::Real)?,
            Spec::Invalid { name } => sample(name, Normal::new(0.0, -1.0))?.value(),
        };
    }
    Ok(acc)
}

/// One handler of a composition.
#[derive(Clone, Debug)]
enum H {
    /// `block(hide = names)`.
    Block(Vec<&'static str>),
    /// `scale(s)`.
    Scale(f64),
    /// `condition` of the named sites on `v` (see [`data`]).
    Condition(Vec<&'static str>, f64),
    /// `seed(k)`.
    Seed(u64),
    /// `mask(flag)`.
    Mask(bool),
    /// `uncondition()`.
    Uncondition,
}

/// Condition data for `names` of the right type for `specs`: `v > 0` for a Bernoulli site, `v`
/// otherwise (and for names the model does not use).
fn data(names: &[&'static str], v: f64, specs: &[Spec]) -> Vec<(&'static str, Value)> {
    names
        .iter()
        .map(|&name| {
            let coin = specs
                .iter()
                .find(|s| s.name() == name)
                .is_some_and(|s| matches!(s, Spec::Coin { .. }));
            let value = if coin {
                Value::Bool(v > 0.0)
            } else {
                Value::Real(v)
            };
            (name, value)
        })
        .collect()
}

/// Runs the model of `specs` under the handlers `hs`, `hs[0]` outermost.
fn run_under(hs: &[H], specs: &[Spec]) -> Res<f64> {
    let Some((h, inner)) = hs.split_first() else {
        return interpret(specs);
    };
    let body = || run_under(inner, specs);
    match h {
        H::Block(names) => BlockMessenger::hide(names.iter().copied()).run(body),
        H::Scale(s) => ScaleMessenger::new(*s)?.run(body),
        H::Condition(names, v) => ConditionMessenger::new(data(names, *v, specs)).run(body),
        H::Seed(k) => SeedMessenger::new(*k).run(body),
        H::Mask(flag) => MaskMessenger::new(*flag).run(body),
        H::Uncondition => UnconditionMessenger::new().run(body),
    }
}

/// The `(name, value, is_observed)` of every site, in order.
fn contents(tr: &Trace) -> Vec<(String, Option<Value>, bool)> {
    tr.iter()
        .map(|s| (s.name.to_string(), s.value.clone(), s.is_observed))
        .collect()
}

/// A site spec without its name.
fn spec_kind() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (-3.0..3.0, 0.2..3.0).prop_map(|(loc, scale)| Spec::Latent {
            name: "",
            loc,
            scale
        }),
        (0.05..0.95).prop_map(|p| Spec::Coin { name: "", p }),
        (-3.0..3.0, 0.2..3.0, -3.0..3.0).prop_map(|(loc, scale, value)| Spec::Observed {
            name: "",
            loc,
            scale,
            value
        }),
        (0..PARAM_NAMES.len(), -2.0..2.0).prop_map(|(i, init)| Spec::Param {
            name: PARAM_NAMES[i],
            init
        }),
    ]
}

/// A valid model: up to 6 sites, sample sites uniquely named, params possibly repeated.
fn valid_model() -> impl Strategy<Value = Vec<Spec>> {
    prop::collection::vec(spec_kind(), 0..=SAMPLE_NAMES.len()).prop_map(|mut specs| {
        for (i, spec) in specs.iter_mut().enumerate() {
            match spec {
                Spec::Latent { name, .. }
                | Spec::Coin { name, .. }
                | Spec::Observed { name, .. } => *name = SAMPLE_NAMES[i],
                _ => {}
            }
        }
        specs
    })
}

/// Any model: names drawn from a small pool shared by sample sites and params (so duplicates
/// and sample/param clashes are frequent), and invalid parameters.
fn any_model() -> impl Strategy<Value = Vec<Spec>> {
    let pool = ["s0", "s1", "s2", PARAM_NAMES[0], PARAM_NAMES[1]];
    let spec = (spec_kind(), prop::sample::select(pool.to_vec()), 0..8u8).prop_map(
        |(mut spec, pick, invalid)| {
            if invalid == 0 {
                return Spec::Invalid { name: pick };
            }
            match &mut spec {
                Spec::Latent { name, .. }
                | Spec::Coin { name, .. }
                | Spec::Observed { name, .. }
                | Spec::Param { name, .. }
                | Spec::Invalid { name } => *name = pick,
            }
            spec
        },
    );
    prop::collection::vec(spec, 0..=6)
}

/// Names a block or condition may mention: sample names, params and an absent name.
fn mentionable() -> Vec<&'static str> {
    let mut names = SAMPLE_NAMES.to_vec();
    names.extend(PARAM_NAMES);
    names.push(ABSENT);
    names
}

fn handler() -> impl Strategy<Value = H> {
    prop_oneof![
        prop::sample::subsequence(mentionable(), 0..=3).prop_map(H::Block),
        (0.1..10.0).prop_map(H::Scale),
        (prop::sample::subsequence(mentionable(), 0..=3), -2.0..2.0)
            .prop_map(|(names, v)| H::Condition(names, v)),
        any::<u64>().prop_map(H::Seed),
        any::<bool>().prop_map(H::Mask),
        Just(H::Uncondition),
    ]
}

/// Up to 4 handlers, outermost first.
fn composition() -> impl Strategy<Value = Vec<H>> {
    prop::collection::vec(handler(), 0..=4)
}

/// The error `trace` must report for `specs` run without other handlers, if any: the first
/// invalid parameter, duplicate sample name, or sample/param clash, in program order.
fn expected_trace_error(specs: &[Spec]) -> Option<String> {
    let mut seen: HashMap<&str, SiteKind> = HashMap::new();
    for spec in specs {
        let (name, kind) = (spec.name(), spec.kind());
        if let Spec::Invalid { .. } = spec {
            return Some(format!(
                "at sample site '{name}': Normal: invalid parameter scale = -1 (must be finite \
                 and > 0)"
            ));
        }
        match seen.get(name) {
            None => {
                seen.insert(name, kind);
            }
            Some(&old) if old != kind => {
                return Some(format!(
                    "{kind:?} site '{name}' clashes with the {old:?} site of the same name \
                     already in the trace"
                ));
            }
            Some(SiteKind::Sample) => {
                return Some(format!("Multiple sample sites named '{name}'"));
            }
            Some(SiteKind::Param) => {}
        }
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // Nothing written next to the sources: a failure prints its minimal input.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// `trace(replay(m, t))` reproduces every site of `t = trace(m)`: latent values are
    /// replayed, observations and params are the model's own. (Not the return value: sites an
    /// inner block hides from the replay are drawn afresh.)
    #[test]
    fn replay_reproduces_the_recorded_values(specs in valid_model(), hs in composition()) {
        let m = |_: ()| run_under(&hs, &specs);
        let t = trace(m).get_trace(()).unwrap();
        let again = trace(replay(m, t.clone())).get_trace(()).unwrap();
        prop_assert_eq!(contents(&again), contents(&t));
        prop_assert_eq!(stack_depth(), 0);
    }

    /// `condition(m, d)` marks exactly the sample sites named in `d` observed (besides the
    /// model's own observations), with `d`'s values.
    #[test]
    fn condition_observes_exactly_the_named_sites(
        specs in valid_model(),
        names in prop::sample::subsequence(mentionable(), 0..=4),
        v in -2.0..2.0f64,
    ) {
        let d = data(&names, v, &specs);
        let m = |_: ()| interpret(&specs);
        let t = trace(condition(m, d.clone())).get_trace(()).unwrap();
        let given: HashMap<&str, &Value> = d.iter().map(|(k, v)| (*k, v)).collect();
        for spec in &specs {
            let name = spec.name();
            let site = t.get(name).unwrap();
            if spec.kind() == SiteKind::Param {
                prop_assert!(!site.is_observed);
                continue;
            }
            let model_observed = matches!(spec, Spec::Observed { .. });
            prop_assert_eq!(site.is_observed, given.contains_key(name) || model_observed);
            match (given.get(name), spec) {
                (Some(&value), _) => prop_assert_eq!(site.value.as_ref(), Some(value)),
                (None, Spec::Observed { value, .. }) => {
                    prop_assert_eq!(site.value.clone(), Some(Value::Real(*value)))
                }
                _ => {}
            }
        }
    }

    /// `scale(m, s)` multiplies `log_prob_sum` by `s`. With `m` seeded innermost, both runs draw
    /// the same values. Each scaled site log-prob `s * scale_i * lp_i` differs from `s` times
    /// the unscaled one by at most one rounding (2^-53 relative), and summing n <= 6 terms adds
    /// at most n roundings of the running sums, so `|lp_s - s * lp| <= 1e-12 * s * sum |scale_i *
    /// lp_i|` holds with a wide margin (an absolute bound, since the sum may cancel).
    #[test]
    fn scale_multiplies_the_log_prob_sum(
        specs in valid_model(),
        hs in composition(),
        k in any::<u64>(),
        s in 0.1..10.0f64,
    ) {
        let mut seeded = hs.clone();
        seeded.push(H::Seed(k));
        let m = |_: ()| run_under(&seeded, &specs);
        let t = trace(m).get_trace(()).unwrap();
        let scaled = trace(scale(m, s).unwrap()).get_trace(()).unwrap();
        prop_assert_eq!(contents(&scaled), contents(&t));
        let lp = t.log_prob_sum(|_| true).unwrap();
        let lp_scaled = scaled.log_prob_sum(|_| true).unwrap();
        let magnitude: f64 = t.iter().map(|site| site.log_prob_sum().unwrap().abs()).sum();
        prop_assert!(
            (lp_scaled - s * lp).abs() <= 1e-12 * s * magnitude,
            "{} vs {} * {}", lp_scaled, s, lp
        );
    }

    /// `block(hide = H)` removes exactly the sites named in `H` from an outer trace (an inner
    /// trace of the same run records them all).
    #[test]
    fn block_hide_removes_exactly_the_hidden_names(
        specs in valid_model(),
        hs in composition(),
        hidden in prop::sample::subsequence(mentionable(), 0..=4),
    ) {
        let ((_, inner), outer) = TraceMessenger::record(|| {
            BlockMessenger::hide(hidden.iter().copied()).run(|| TraceMessenger::record(|| run_under(&hs, &specs)))
        })
        .unwrap();
        let expected: Vec<String> = inner
            .iter()
            .map(|s| s.name.to_string())
            .filter(|n| !hidden.contains(&n.as_str()))
            .collect();
        let found: Vec<String> = outer.iter().map(|s| s.name.to_string()).collect();
        prop_assert_eq!(found, expected);
    }

    /// A seeded model is deterministic: two runs, with different thread generators, record the
    /// same values, whatever handlers the model uses inside.
    #[test]
    fn a_seeded_model_is_deterministic(
        specs in valid_model(),
        hs in composition(),
        k in any::<u64>(),
        thread_seeds in (any::<u64>(), any::<u64>()),
    ) {
        let seeded = seed(|_: ()| run_under(&hs, &specs), k);
        set_rng_seed(thread_seeds.0);
        let first = trace(seeded.clone()).get_trace(()).unwrap();
        set_rng_seed(thread_seeds.1);
        let second = trace(seeded).get_trace(()).unwrap();
        prop_assert_eq!(contents(&first), contents(&second));
        prop_assert_eq!(first.output::<f64>(), second.output::<f64>());
    }

    /// The stack is empty after every run, erroring or not, traced or not, whatever the
    /// composition; a trace reports the first invalid parameter, duplicate sample name or
    /// sample/param clash, and an untraced run fails only on invalid parameters.
    #[test]
    fn the_stack_is_empty_after_every_run_and_trace_errors_are_exact(
        specs in any_model(),
        hs in composition(),
    ) {
        let composed = |_: ()| run_under(&hs, &specs);
        let _ = trace(composed).get_trace(());
        prop_assert_eq!(stack_depth(), 0);
        let _ = composed(());
        prop_assert_eq!(stack_depth(), 0);

        let plain = |_: ()| interpret(&specs);
        let err = trace(plain).get_trace(()).err().map(|e| e.to_string());
        prop_assert_eq!(err, expected_trace_error(&specs));
        prop_assert_eq!(stack_depth(), 0);
        let invalid = specs.iter().any(|s| matches!(s, Spec::Invalid { .. }));
        prop_assert_eq!(plain(()).is_err(), invalid);
    }
}
