//! Behaviour of the effect handlers in composition, through the public API of pyro-poutine.
//!
//! Ported from Pyro's `tests/poutine/` (`test_poutines.py`, `test_counterfactual.py`,
//! `test_nesting.py`) and from SEMANTICS.md sections 2-6. Each test is named after the behaviour
//! it checks; a comment cites the Pyro test it ports where there is one. Param names are unique
//! per test because the parameter store is process-global. Reference log-densities are computed
//! from the closed-form Normal density, independently of the library.

use pyro_poutine::distributions::{
    AnyDistribution, Batched, Bernoulli, Constraint, Distribution, Exponential, LogNormal, Normal,
    Real, Reals, Rng, Uniform, Value,
};
use pyro_poutine::{
    BlockMessenger, ConditionMessenger, EscapeMessenger, Handler, InferConfig,
    InferConfigMessenger, InferValue, InterveneMessenger, LiftMessenger, Mask, MaskMessenger,
    Model, Name, Plate, PyroError, ReplayMessenger, ScaleMessenger, Site, SiteKind, SiteType,
    Trace, TraceMessenger, block, condition, escape, infer_config, intervene, lift, mask, observe,
    param, replay, sample, scale, seed, set_rng_seed, stack_depth, substitute, trace, uncondition,
    with_handler, with_param_store,
};
use pyro_trace::GraphType;
use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;

type Res<T> = Result<T, PyroError>;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The value of site `name`, if any.
fn value(tr: &Trace, name: impl Into<Name>) -> Option<Value> {
    tr.get(name).and_then(|s| s.value.clone())
}

/// The real value of site `name` (panics with the site name otherwise).
fn real(tr: &Trace, name: impl Into<Name>) -> f64 {
    let name = name.into();
    match value(tr, name.clone()) {
        Some(Value::Real(x)) => x,
        other => panic!("site {name}: expected a real value, found {other:?}"),
    }
}

/// The site names of a trace, in order.
fn names(tr: &Trace) -> Vec<String> {
    tr.iter().map(|s| s.name.to_string()).collect()
}

/// The closed-form Normal log-density, independent of the library's implementation.
fn normal_lp(x: f64, loc: f64, scale: f64) -> f64 {
    let z = (x - loc) / scale;
    -0.5 * z * z - scale.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
}

/// `|a - b| <= 1e-12 * max(1, |b|)`: the library and the closed form differ by a few rounding
/// errors of a handful of flops, far below 1e-12 relative.
fn assert_close(a: f64, b: f64) {
    assert!(
        (a - b).abs() <= 1e-12 * b.abs().max(1.0),
        "{a} != {b} (difference {})",
        a - b
    );
}

/// Pyro's `NormalNormalNormalHandlerTestCase` model, with scalars.
fn nnn_model(_: ()) -> Res<f64> {
    let latent1 = sample("latent1", Normal::new(0.0, 1.0))?;
    let latent2 = sample("latent2", Normal::new(latent1, 5.0))?;
    observe("obs", Normal::new(latent2, 1.0), 1.0)?;
    Ok(latent1.value())
}

/// The name of guide parameter `p` for the test tagged `tag`.
fn pname(tag: &str, p: &str) -> String {
    format!("{tag}_{p}")
}

/// Pyro's `NormalNormalNormalHandlerTestCase` guide, with params named after `tag`.
fn nnn_guide(tag: &'static str) -> impl Fn(()) -> Res<f64> + Clone {
    move |_| {
        let loc1: f64 = param(pname(tag, "loc1"), 0.3, Constraint::Real)?;
        let scale1: f64 = param(pname(tag, "scale1"), 1.0, Constraint::Positive)?;
        sample("latent1", Normal::new(loc1, scale1))?;
        let loc2: f64 = param(pname(tag, "loc2"), -0.2, Constraint::Real)?;
        let scale2: f64 = param(pname(tag, "scale2"), 1.0, Constraint::Positive)?;
        Ok(sample("latent2", Normal::new(loc2, scale2))?.value())
    }
}

/// The log-joint of an `nnn_model` trace, from the closed-form density.
fn nnn_log_joint(tr: &Trace) -> f64 {
    let (l1, l2, obs) = (real(tr, "latent1"), real(tr, "latent2"), real(tr, "obs"));
    normal_lp(l1, 0.0, 1.0) + normal_lp(l2, l1, 5.0) + normal_lp(obs, l2, 1.0)
}

/// Pyro's `EscapeHandlerTests` / `QueueHandlerMixedTest` model: continuous, discrete,
/// continuous.
fn mixed_model(_: ()) -> Res<(f64, bool, f64)> {
    let x = sample("x", Normal::new(0.0, 1.0))?;
    let y = sample("y", Bernoulli::new(0.5))?;
    let z = sample("z", Normal::new(0.0, 1.0))?;
    Ok((x.value(), y, z.value()))
}

/// Pyro's `discrete_escape` with an empty trace: latent sites with enumerable support.
fn discrete_escape(site: &Site) -> bool {
    !site.is_observed && site.family() == Some("Bernoulli")
}

/// Pyro's `all_escape` with an empty trace: every latent site.
fn all_escape(site: &Site) -> bool {
    !site.is_observed
}

/// The escaped site of an [`PyroError::Escape`] result.
fn escaped<T: std::fmt::Debug>(result: Res<T>) -> Box<Site> {
    match result {
        Err(PyroError::Escape(site)) => site,
        other => panic!("expected an escape, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// trace
// ---------------------------------------------------------------------------------------------

/// Ports `TraceHandlerTests.test_trace_full`.
#[test]
fn trace_records_the_sample_and_param_sites_of_model_and_guide() {
    let tag = "trace_full";
    let guide_tr = trace(nnn_guide(tag)).get_trace(()).unwrap();
    let model_tr = trace(nnn_model).get_trace(()).unwrap();
    assert_eq!(names(&model_tr), ["latent1", "latent2", "obs"]);
    assert_eq!(
        names(&guide_tr),
        [
            pname(tag, "loc1"),
            pname(tag, "scale1"),
            "latent1".into(),
            pname(tag, "loc2"),
            pname(tag, "scale2"),
            "latent2".into()
        ]
    );
    assert!(
        guide_tr
            .iter()
            .filter(|s| s.kind == SiteKind::Sample)
            .all(|s| !s.is_observed)
    );
    assert_eq!(guide_tr.param_nodes().count(), 4);
    assert_eq!(
        model_tr.observation_nodes().collect::<Vec<_>>(),
        [&Name::from("obs")]
    );
}

/// Ports `TraceHandlerTests.test_trace_return`.
#[test]
fn trace_records_the_return_value() {
    let tr = trace(nnn_model).get_trace(()).unwrap();
    assert_eq!(tr.output::<f64>(), Some(&real(&tr, "latent1")));
}

/// SEMANTICS 2: every handler processes a message before any postprocesses it, so a trace
/// inside a condition and a scale records the message as they left it.
#[test]
fn an_inner_trace_records_what_outer_handlers_did() {
    let ((_, inner), outer) = TraceMessenger::record(|| {
        ConditionMessenger::new([("latent1", Value::Real(0.5))])
            .run(|| ScaleMessenger::new(2.0)?.run(|| TraceMessenger::record(|| nnn_model(()))))
    })
    .unwrap();
    for tr in [&inner, &outer] {
        let l1 = tr.get("latent1").unwrap();
        assert!(l1.is_observed);
        assert_eq!(l1.value, Some(Value::Real(0.5)));
        assert_eq!(l1.scale, 2.0);
        assert_eq!(tr.get("latent2").unwrap().scale, 2.0);
    }
}

/// SEMANTICS 3 (`trace`): two sample sites with one name are an error in a trace, not in an
/// untraced run.
#[test]
fn duplicate_sample_names_are_an_error_only_when_traced() {
    let dup = |_: ()| -> Res<Real> {
        sample("x", Normal::new(0.0, 1.0))?;
        sample("x", Normal::new(0.0, 1.0))
    };
    assert!(dup(()).is_ok());
    assert!(scale(dup, 2.0).unwrap().call(()).is_ok());
    let err = trace(dup).get_trace(()).unwrap_err();
    assert_eq!(err.to_string(), "Multiple sample sites named 'x'");
    assert_eq!(stack_depth(), 0);
    // Hidden from the trace by an inner block, the duplicate is no error.
    assert!(
        trace(BlockMessenger::hide(["x"]).wrap(dup))
            .get_trace(())
            .is_ok()
    );
}

/// SEMANTICS 3 (`trace`): a sample named like an earlier param (or the reverse) is an error.
#[test]
fn a_sample_named_like_a_param_is_an_error_and_the_reverse_too() {
    let name = "behaviour_clash_param";
    let param_first = move |_: ()| -> Res<Real> {
        param(name, 1.0, Constraint::Real)?;
        sample(name, Normal::new(0.0, 1.0))
    };
    let err = trace(param_first).get_trace(()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Sample site '{name}' clashes with the Param site of the same name already in the trace"
        )
    );
    let sample_first = move |_: ()| -> Res<f64> {
        sample(name, Normal::new(0.0, 1.0))?;
        param(name, 1.0, Constraint::Real)
    };
    let err = trace(sample_first).get_trace(()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Param site '{name}' clashes with the Sample site of the same name already in the trace"
        )
    );
    assert_eq!(stack_depth(), 0);
}

/// SEMANTICS 3-4: a param may repeat in a trace (one node); the first initialisation wins.
#[test]
fn params_repeat_as_one_node_and_the_first_init_wins() {
    let name = "behaviour_first_init";
    let m = move |_: ()| -> Res<(f64, f64)> {
        let a: f64 = param(name, 2.0, Constraint::Positive)?;
        let b: f64 = param(name, 7.0, Constraint::Real)?;
        Ok((a, b))
    };
    let tr = trace(m).get_trace(()).unwrap();
    assert_eq!(tr.output::<(f64, f64)>(), Some(&(2.0, 2.0)));
    assert_eq!(names(&tr), [name]);
    assert_eq!(
        with_param_store(|s| s.constraint(name)),
        Some(Constraint::Positive)
    );
    let later = move |_: ()| param(name, 9.0, Constraint::Real);
    assert_eq!(later(()).unwrap(), 2.0);
}

/// SEMANTICS 1-2: the handler stack is per thread; a trace does not see another thread's sites.
#[test]
fn the_handler_stack_is_per_thread() {
    let (_, tr) = TraceMessenger::record(|| {
        let elsewhere = std::thread::spawn(|| {
            sample("elsewhere", Normal::new(0.0, 1.0))?;
            Ok::<_, PyroError>(stack_depth())
        });
        assert_eq!(elsewhere.join().unwrap()?, 0);
        assert_eq!(stack_depth(), 1);
        sample("here", Normal::new(0.0, 1.0))
    })
    .unwrap();
    assert_eq!(names(&tr), ["here"]);
}

// ---------------------------------------------------------------------------------------------
// replay
// ---------------------------------------------------------------------------------------------

/// Ports `ReplayHandlerTests.test_replay_full`.
#[test]
fn replay_gives_the_model_the_guide_values() {
    let guide_tr = trace(nnn_guide("replay_full")).get_trace(()).unwrap();
    let model_tr = trace(replay(nnn_model, guide_tr.clone()))
        .get_trace(())
        .unwrap();
    for name in ["latent1", "latent2"] {
        assert_eq!(value(&model_tr, name), value(&guide_tr, name), "{name}");
        assert!(!model_tr.get(name).unwrap().is_observed);
    }
    // The guide's params are not model sites.
    assert_eq!(names(&model_tr), ["latent1", "latent2", "obs"]);
}

/// Ports `ReplayHandlerTests.test_replay_full_repeat`.
#[test]
fn replay_is_repeatable() {
    let model_tr = trace(nnn_model).get_trace(()).unwrap();
    let ftr = trace(replay(nnn_model, model_tr.clone()));
    let tr11 = ftr.get_trace(()).unwrap();
    let tr12 = ftr.get_trace(()).unwrap();
    let tr2 = trace(replay(nnn_model, model_tr.clone()))
        .get_trace(())
        .unwrap();
    for name in ["latent1", "latent2"] {
        let expected = value(&model_tr, name);
        for tr in [&tr11, &tr12, &tr2] {
            assert_eq!(value(tr, name), expected, "{name}");
        }
    }
}

/// SEMANTICS 3 (`replay`): sites absent from the replayed trace are drawn afresh.
#[test]
fn replay_draws_the_missing_sites_afresh() {
    let partial_guide = |_: ()| sample("latent1", Normal::new(3.0, 0.1));
    let guide_tr = trace(partial_guide).get_trace(()).unwrap();
    let replayed = trace(replay(nnn_model, guide_tr.clone()));
    let (a, b) = (
        replayed.get_trace(()).unwrap(),
        replayed.get_trace(()).unwrap(),
    );
    assert_eq!(value(&a, "latent1"), value(&guide_tr, "latent1"));
    assert_eq!(value(&b, "latent1"), value(&guide_tr, "latent1"));
    // Two continuous draws coincide with probability 0.
    assert_ne!(real(&a, "latent2"), real(&b, "latent2"));
    assert!(!a.get("latent2").unwrap().is_observed);
}

/// SEMANTICS 3 (`replay`): a site the current model observes keeps its observation even when
/// the replayed trace holds it as latent.
#[test]
fn replay_keeps_the_models_observations() {
    let latent_obs = trace(uncondition(nnn_model)).get_trace(()).unwrap();
    assert!(!latent_obs.get("obs").unwrap().is_observed);
    let tr = trace(replay(nnn_model, latent_obs.clone()))
        .get_trace(())
        .unwrap();
    assert!(tr.get("obs").unwrap().is_observed);
    assert_eq!(value(&tr, "obs"), Some(Value::Real(1.0)));
    assert_eq!(value(&tr, "latent2"), value(&latent_obs, "latent2"));
}

/// SEMANTICS 3 (`replay`): a replayed node that is observed or a param is an error naming the
/// site ("site 'x' must be sampled in trace").
#[test]
fn replay_against_an_observed_or_param_node_is_an_error() {
    let observed = trace(condition(nnn_model, [("latent1", Value::Real(0.2))]))
        .get_trace(())
        .unwrap();
    let err = trace(replay(nnn_model, observed))
        .get_trace(())
        .unwrap_err();
    assert_eq!(err.to_string(), "site 'latent1' must be sampled in trace");
    assert!(matches!(&err, PyroError::ReplayNotSampled { site } if *site == "latent1"));
    assert_eq!(stack_depth(), 0);

    let mut params = Trace::new();
    params
        .add_node(Site::param(Name::from("latent2"), Some(Value::Real(0.0))))
        .unwrap();
    let err = replay(nnn_model, params).call(()).unwrap_err();
    assert_eq!(err.to_string(), "site 'latent2' must be sampled in trace");
    assert_eq!(stack_depth(), 0);
}

/// SEMANTICS 3: the order of `replay` and `condition` decides whether an observed node fails:
/// a condition inside the replay has already observed the site, one outside has not yet.
#[test]
fn replay_of_an_observed_node_depends_on_the_order_with_condition() {
    let observed = trace(condition(nnn_model, [("latent1", Value::Real(0.2))]))
        .get_trace(())
        .unwrap();
    let inside = replay(
        condition(nnn_model, [("latent1", Value::Real(0.7))]),
        observed.clone(),
    );
    let tr = trace(inside).get_trace(()).unwrap();
    assert_eq!(value(&tr, "latent1"), Some(Value::Real(0.7)));
    assert!(tr.get("latent1").unwrap().is_observed);

    let outside = condition(replay(nnn_model, observed), [("latent1", Value::Real(0.7))]);
    let err = outside.call(()).unwrap_err();
    assert!(matches!(err, PyroError::ReplayNotSampled { .. }), "{err}");
    assert_eq!(stack_depth(), 0);
}

/// SEMANTICS 3 (`replay`): params replayed from a map are not read from, nor written to, the
/// store; giving neither trace nor params is an error.
#[test]
fn replayed_params_leave_the_store_untouched() {
    let tag = "replay_params";
    let loc1 = pname(tag, "loc1");
    let replayed = ReplayMessenger::params([(loc1.clone(), Value::Real(4.0))]).wrap(nnn_guide(tag));
    let tr = trace(replayed).get_trace(()).unwrap();
    assert_eq!(value(&tr, &loc1), Some(Value::Real(4.0)));
    assert!(!with_param_store(|s| s.contains(&loc1)));
    assert!(with_param_store(|s| s.contains(&pname(tag, "scale1"))));
    let err = ReplayMessenger::new(None, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "replay: must provide a trace or params to replay against"
    );
}

/// Ports `test_decorator_interface_primitives` (the replay part): tracing a replay reproduces
/// every value and the return value.
#[test]
fn trace_of_replay_reproduces_the_values_and_the_output() {
    let tr = trace(mixed_model).get_trace(()).unwrap();
    let again = trace(replay(mixed_model, tr.clone()))
        .get_trace(())
        .unwrap();
    assert_eq!(names(&again), names(&tr));
    for site in tr.iter() {
        assert_eq!(value(&again, &site.name), site.value, "{}", site.name);
    }
    assert_eq!(
        again.output::<(f64, bool, f64)>(),
        tr.output::<(f64, bool, f64)>()
    );
}

/// SEMANTICS 3 (`replay`): the replayed site takes the node's `infer` config too.
#[test]
fn replay_copies_the_infer_config() {
    let tag_enumerate = |site: &Site| {
        let mut c = InferConfig::new();
        if site.name == "y" {
            c.insert("enumerate", InferValue::Str("parallel".into()));
        }
        c
    };
    let guide_tr = trace(infer_config(mixed_model, tag_enumerate))
        .get_trace(())
        .unwrap();
    let tr = trace(replay(mixed_model, guide_tr)).get_trace(()).unwrap();
    assert_eq!(
        tr.get("y").unwrap().infer.get("enumerate"),
        Some(&InferValue::Str("parallel".into()))
    );
    assert!(tr.get("x").unwrap().infer.is_empty());
}

/// Pyro's queue/enumeration pattern (`iter_discrete_escape` + `iter_discrete_extend`): the
/// partial trace an escape leaves, once its escaped site is given a value, is replayed to run the
/// model further. Without any escape handler installed, the replay must not escape again.
#[test]
fn replaying_an_extended_escape_trace_does_not_escape_again() {
    let (tracer, result) = EscapeMessenger::new(discrete_escape)
        .run(|| with_handler(TraceMessenger::new(), || mixed_model(())));
    assert_eq!(escaped(result).name, "y");
    let mut partial = tracer.into_trace();
    assert_eq!(names(&partial), ["x", "y"]);
    partial.get_mut("y").unwrap().value = Some(Value::Bool(true));

    let tr = trace(replay(mixed_model, partial.clone())).get_trace(());
    let tr = tr.unwrap_or_else(|e| panic!("the replayed run should complete, got: {e}"));
    assert_eq!(value(&tr, "y"), Some(Value::Bool(true)));
    assert_eq!(value(&tr, "x"), value(&partial, "x"));
    assert!(tr.contains("z"));
    assert_eq!(stack_depth(), 0);
}

/// Abduction then action: a model replayed against a trace of an intervened run, and then
/// intervened on, intervenes once. (The replayed node comes from the intervention's copy; only
/// the handler's own bookkeeping may tell whether this message was already split.)
#[test]
fn intervening_on_a_replay_of_an_intervened_trace_is_one_intervention() {
    let do_x = || [("x", Value::Real(1.0))];
    let recorded = trace(intervene(mixed_model, do_x())).get_trace(()).unwrap();
    let tr = trace(intervene(replay(mixed_model, recorded.clone()), do_x())).get_trace(());
    let tr = tr.unwrap_or_else(|e| panic!("one intervention per site, got: {e}"));
    // The recorded copy of x is replayed; the program used the intervention value.
    assert_eq!(value(&tr, "x"), value(&recorded, "x"));
    assert_eq!(tr.output::<(f64, bool, f64)>().unwrap().0, 1.0);
    assert_eq!(stack_depth(), 0);
}

/// A trace node without a value (built by hand, or an escaped site) cannot be replayed: the run
/// must report it as an error naming the site (or draw the site), never panic.
#[test]
fn replaying_a_node_without_value_does_not_panic() {
    let name = "latent_without_value";
    let m = move |_: ()| sample(name, Normal::new(0.0, 1.0));
    let mut tr = trace(m).get_trace(()).unwrap();
    tr.get_mut(name).unwrap().value = None;
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(move || replay(m, tr).call(())));
    assert_eq!(stack_depth(), 0);
    match outcome {
        Err(_) => panic!("replay panicked on a trace node without value"),
        Ok(Ok(x)) => assert!(x.is_finite()),
        Ok(Err(e)) => assert!(e.to_string().contains(name), "{e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// block
// ---------------------------------------------------------------------------------------------

/// Ports `BlockHandlerTests.test_block_hide_fn`: a hide function wins over `expose`.
#[test]
fn block_hide_fn_wins_over_expose() {
    let b = BlockMessenger::builder()
        .hide_fn(|s| s.name.to_string().contains("latent"))
        .expose(["latent1"])
        .build()
        .unwrap();
    let tr = trace(b.wrap(nnn_model)).get_trace(()).unwrap();
    assert_eq!(names(&tr), ["obs"]);
}

/// Ports `BlockHandlerTests.test_block_expose_fn`: an expose function wins over `hide`.
#[test]
fn block_expose_fn_wins_over_hide() {
    let b = BlockMessenger::builder()
        .expose_fn(|s| s.name.to_string().contains("latent"))
        .hide(["latent1"])
        .build()
        .unwrap();
    let tr = trace(b.wrap(nnn_model)).get_trace(()).unwrap();
    assert_eq!(names(&tr), ["latent1", "latent2"]);
}

/// Ports `BlockHandlerTests.test_block_full` and `test_block_full_hide`.
#[test]
fn block_without_arguments_or_hiding_every_name_hides_everything() {
    let tag = "block_full";
    assert!(trace(block(nnn_model)).get_trace(()).unwrap().is_empty());
    let guide_tr = trace(block(nnn_guide(tag))).get_trace(()).unwrap();
    assert!(guide_tr.is_empty());
    // The hidden run still returns its value.
    assert!(guide_tr.output::<f64>().unwrap().is_finite());
    let all_guide_sites = trace(nnn_guide(tag)).get_trace(()).unwrap();
    let hide_all = BlockMessenger::hide(names(&all_guide_sites)).wrap(nnn_guide(tag));
    assert!(trace(hide_all).get_trace(()).unwrap().is_empty());
    let hide_model = BlockMessenger::hide(["latent1", "latent2", "obs"]).wrap(nnn_model);
    assert!(trace(hide_model).get_trace(()).unwrap().is_empty());
}

/// Ports `BlockHandlerTests.test_block_full_expose`.
#[test]
fn block_exposing_every_name_hides_nothing() {
    let tag = "block_full_expose";
    let guide_names = names(&trace(nnn_guide(tag)).get_trace(()).unwrap());
    let tr = trace(BlockMessenger::expose(guide_names.clone()).wrap(nnn_guide(tag)))
        .get_trace(())
        .unwrap();
    assert_eq!(names(&tr), guide_names);
    let tr = trace(BlockMessenger::expose(["latent1", "latent2", "obs"]).wrap(nnn_model))
        .get_trace(())
        .unwrap();
    assert_eq!(names(&tr), ["latent1", "latent2", "obs"]);
}

/// Ports `BlockHandlerTests.test_block_full_hide_expose`, and the other invalid combinations.
#[test]
fn block_hiding_and_exposing_one_site_is_an_error() {
    let err = BlockMessenger::builder()
        .hide(["latent1"])
        .expose(["latent1"])
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "block: cannot hide and expose site 'latent1'"
    );
    let err = BlockMessenger::builder()
        .hide_fn(|_| true)
        .expose_fn(|_| true)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "block: give only one of hide_fn and expose_fn"
    );
    let err = BlockMessenger::builder()
        .hide_types([SiteType::Observe])
        .expose_types([SiteType::Observe])
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "block: cannot hide and expose site type 'observe'"
    );
    let err = BlockMessenger::builder()
        .hide_all()
        .expose_all()
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "block: cannot both hide_all and expose_all"
    );
}

/// Ports `BlockHandlerTests.test_block_partial_hide` and `test_block_partial_expose`.
#[test]
fn block_partial_hide_and_expose() {
    let tag = "block_partial";
    let model_tr = trace(BlockMessenger::hide(["latent1"]).wrap(nnn_model))
        .get_trace(())
        .unwrap();
    let guide_tr = trace(BlockMessenger::hide(["latent1"]).wrap(nnn_guide(tag)))
        .get_trace(())
        .unwrap();
    for tr in [&model_tr, &guide_tr] {
        assert!(!tr.contains("latent1") && tr.contains("latent2"));
    }
    let model_tr = trace(BlockMessenger::expose(["latent1"]).wrap(nnn_model))
        .get_trace(())
        .unwrap();
    let guide_tr = trace(BlockMessenger::expose(["latent1"]).wrap(nnn_guide(tag)))
        .get_trace(())
        .unwrap();
    for tr in [&model_tr, &guide_tr] {
        assert_eq!(names(tr), ["latent1"]);
    }
}

/// Ports `BlockHandlerTests.test_block_tutorial_case`: `hide_types = observe` hides the
/// observations only.
#[test]
fn block_hide_types_observe_hides_only_observations() {
    let tr = trace(BlockMessenger::hide_types([SiteType::Observe]).wrap(nnn_model))
        .get_trace(())
        .unwrap();
    assert_eq!(names(&tr), ["latent1", "latent2"]);
    let tr = trace(nnn_model).get_trace(()).unwrap();
    assert!(tr.contains("obs"));
}

/// SEMANTICS 3 (`block`), every rule of Pyro's `BlockMessenger`, seen from an outer trace:
/// (0) a hide/expose function decides alone; (1) a name in `hide` is hidden; (2) a type in
/// `hide_types` is hidden; (3) when `expose`/`expose_types` is given, what neither exposes is
/// hidden; (4) with nothing given everything is hidden. `hide` wins over `expose_types` and
/// `hide_types` over `expose`.
#[test]
fn block_precedence_rules_as_seen_by_an_outer_trace() {
    use SiteType::{Observe, Param, Sample};
    const P: &str = "block_rules_p";
    let m = |_: ()| -> Res<()> {
        let a = sample("a", Normal::new(0.0, 1.0))?;
        sample("b", Normal::new(a, 1.0))?;
        observe("y", Normal::new(0.0, 1.0), 0.5)?;
        param(P, 1.0, Constraint::Real)?;
        Ok(())
    };
    let rows: Vec<(&str, BlockMessenger, &[&str])> = vec![
        ("(4) nothing given", BlockMessenger::new(), &[]),
        (
            "expose_all",
            BlockMessenger::expose_all(),
            &["a", "b", "y", P],
        ),
        (
            "(0) hide_fn alone decides",
            BlockMessenger::builder()
                .hide_fn(|s| s.name == "a")
                .expose(["a"])
                .hide(["b"])
                .build()
                .unwrap(),
            &["b", "y", P],
        ),
        (
            "(0) expose_fn alone decides",
            BlockMessenger::builder()
                .expose_fn(|s| s.kind == SiteKind::Param)
                .expose(["a"])
                .build()
                .unwrap(),
            &[P],
        ),
        ("(1) hide", BlockMessenger::hide(["a", "y"]), &["b", P]),
        (
            "(2) hide_types",
            BlockMessenger::hide_types([Param, Observe]),
            &["a", "b"],
        ),
        ("(3) expose", BlockMessenger::expose(["b"]), &["b"]),
        (
            "(3) expose_types",
            BlockMessenger::expose_types([Sample]),
            &["a", "b"],
        ),
        (
            "(3) expose by name or by type",
            BlockMessenger::builder()
                .expose(["y"])
                .expose_types([Param])
                .build()
                .unwrap(),
            &["y", P],
        ),
        (
            "(1) hide wins over expose_types",
            BlockMessenger::builder()
                .hide(["a"])
                .expose_types([Sample])
                .build()
                .unwrap(),
            &["b"],
        ),
        (
            "(2) hide_types wins over expose",
            BlockMessenger::builder()
                .expose(["a"])
                .hide_types([Sample])
                .build()
                .unwrap(),
            &["y", P],
        ),
    ];
    for (row, b, exposed) in rows {
        let tr = trace(b.wrap(m)).get_trace(()).unwrap();
        assert_eq!(names(&tr), exposed, "{row}");
    }
}

/// SEMANTICS 3 (`block`): a hidden message is missed by ALL outer handlers: condition,
/// replay, plate, scale, mask and trace, while inner handlers still see it.
#[test]
fn hidden_sites_are_missed_by_every_outer_handler() {
    let hidden = BlockMessenger::hide(["latent1"]).wrap(nnn_model);
    // An outer condition does not reach it.
    let out = condition(hidden.clone(), [("latent1", Value::Real(9.0))])
        .call(())
        .unwrap();
    assert_ne!(out, 9.0);
    // An outer replay does not either (latent2 is replayed, latent1 drawn).
    let source = trace(nnn_model).get_trace(()).unwrap();
    let tr = trace(replay(hidden, source.clone())).get_trace(()).unwrap();
    assert_ne!(tr.output::<f64>(), Some(&real(&source, "latent1")));
    assert_eq!(value(&tr, "latent2"), value(&source, "latent2"));
    // Outer plate, mask and scale: seen through an inner trace.
    let outer = |_: ()| -> Res<Trace> {
        // A sequential plate over one of 2 indices (scale 2): nnn_model's sites are scalars.
        let mut inner = None;
        Plate::new("outer_plate", 2)
            .subsample(vec![1])
            .for_each(|_| {
                inner = Some(
                    BlockMessenger::hide(["latent1"])
                        .run(|| TraceMessenger::record(|| nnn_model(())).map(|(_, t)| t))?,
                );
                Ok(())
            })?;
        Ok(inner.expect("one iteration"))
    };
    let tr = trace(scale(mask(outer, false), 3.0).unwrap())
        .get_trace(())
        .unwrap();
    assert!(!tr.contains("latent1") && tr.contains("latent2"));
    let inner = tr.output::<Trace>().unwrap();
    let l1 = inner.get("latent1").unwrap();
    assert_eq!(
        (l1.scale, &l1.mask, l1.cond_indep_stack.len()),
        (1.0, &None, 0)
    );
    let l2 = inner.get("latent2").unwrap();
    assert_eq!(
        (l2.scale, &l2.mask, l2.cond_indep_stack.len()),
        (6.0, &Some(Mask::All(false)), 1)
    );
}

/// Ports `test_nesting.py::test_nested_reset`: an escape caught inside the model leaves the
/// enclosing handlers installed; the escaped site reaches neither trace.
#[test]
fn an_escape_caught_inside_a_model_leaves_the_outer_handlers_in_place() {
    let nested = |_: ()| -> Res<String> {
        sample("internal0", Bernoulli::new(0.5))?;
        let depth = stack_depth();
        let result = EscapeMessenger::new(|s| s.name == "internal2").run(|| -> Res<()> {
            sample("internal1", Bernoulli::new(0.5))?;
            sample("internal2", Bernoulli::new(0.5))?;
            sample("internal3", Bernoulli::new(0.5))?;
            Ok(())
        });
        assert_eq!(stack_depth(), depth);
        let site = escaped(result);
        sample("after", Bernoulli::new(0.5))?;
        Ok(site.name.to_string())
    };
    let ((escaped_at, t1), t2) = TraceMessenger::record(|| {
        BlockMessenger::hide(["internal2"]).run(|| TraceMessenger::record(|| nested(())))
    })
    .unwrap();
    assert_eq!(escaped_at, "internal2");
    for tr in [&t1, &t2] {
        assert_eq!(names(tr), ["internal0", "internal1", "after"]);
    }
    assert_eq!(stack_depth(), 0);
}

// ---------------------------------------------------------------------------------------------
// condition and uncondition
// ---------------------------------------------------------------------------------------------

/// Ports `ConditionHandlerTests.test_condition`.
#[test]
fn condition_makes_a_latent_site_observed_with_the_data() {
    let tr = trace(condition(nnn_model, [("latent2", Value::Real(-0.4))]))
        .get_trace(())
        .unwrap();
    let l2 = tr.get("latent2").unwrap();
    assert!(l2.kind == SiteKind::Sample && l2.is_observed);
    assert_eq!(l2.value, Some(Value::Real(-0.4)));
    assert!(!tr.get("latent1").unwrap().is_observed);
    // Scored at the conditioned value.
    assert_close(tr.log_prob_sum(|_| true).unwrap(), nnn_log_joint(&tr));
}

/// Ports `ConditionHandlerTests.test_trace_data`: conditioning on a trace.
#[test]
fn condition_on_a_trace_uses_its_sample_values() {
    let tr1 = trace(BlockMessenger::expose_types([SiteType::Sample]).wrap(nnn_model))
        .get_trace(())
        .unwrap();
    assert_eq!(names(&tr1), ["latent1", "latent2"]);
    let tr2 = trace(ConditionMessenger::from_trace(tr1.clone()).wrap(nnn_model))
        .get_trace(())
        .unwrap();
    for name in ["latent1", "latent2"] {
        let site = tr2.get(name).unwrap();
        assert!(site.is_observed);
        assert_eq!(site.value, value(&tr1, name));
    }
}

/// Ports `ConditionHandlerTests.test_stack_overwrite_failure`, with SEMANTICS 3's rule
/// (Pyro 1.9 no longer asserts): nested conditions on one site, the outer one wins.
#[test]
fn the_outer_condition_wins() {
    let inner = condition(nnn_model, [("latent2", Value::Real(1.0))]);
    let outer = condition(inner, [("latent2", Value::Real(2.0))]);
    let tr = trace(outer).get_trace(()).unwrap();
    assert_eq!(value(&tr, "latent2"), Some(Value::Real(2.0)));
    // The model's own observation loses to a condition too.
    let tr = trace(condition(nnn_model, [("obs", Value::Real(-3.0))]))
        .get_trace(())
        .unwrap();
    assert_eq!(value(&tr, "obs"), Some(Value::Real(-3.0)));
}

/// Ports `ConditionHandlerTests.test_stack_success`: stacked conditions on different sites.
#[test]
fn stacked_conditions_on_different_sites_both_apply() {
    let m = condition(
        condition(nnn_model, [("latent1", Value::Real(0.1))]),
        [("latent2", Value::Real(0.2))],
    );
    let tr = trace(m).get_trace(()).unwrap();
    for (name, v) in [("latent1", 0.1), ("latent2", 0.2)] {
        let site = tr.get(name).unwrap();
        assert!(site.is_observed);
        assert_eq!(site.value, Some(Value::Real(v)));
    }
}

/// SEMANTICS 3 (`condition`): unused keys are ignored, or reported in strict mode.
#[test]
fn unused_condition_keys_are_ignored_unless_strict() {
    let data = || [("latent1", Value::Real(0.0)), ("nope", Value::Real(1.0))];
    assert!(condition(nnn_model, data()).call(()).is_ok());
    let err = ConditionMessenger::new(data())
        .strict()
        .wrap(nnn_model)
        .call(())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "condition: no sample site used the data for 'nope'"
    );
    assert_eq!(stack_depth(), 0);
}

/// Ports `UnconditionHandlerTests.test_uncondition`.
#[test]
fn uncondition_draws_the_observed_sites() {
    let tr = trace(uncondition(nnn_model)).get_trace(()).unwrap();
    let obs = tr.get("obs").unwrap();
    assert!(!obs.is_observed);
    assert_ne!(obs.value, Some(Value::Real(1.0)));
    assert_eq!(
        obs.infer.get("obs"),
        Some(&InferValue::Value(Value::Real(1.0)))
    );
    assert!(obs.infer.flag("was_observed"));
    let tr = trace(nnn_model).get_trace(()).unwrap();
    assert_eq!(value(&tr, "obs"), Some(Value::Real(1.0)));
}

/// Ports `UnconditionHandlerTests.test_undo_uncondition`, and SEMANTICS 3: `condition(
/// uncondition(m))` is observed, `uncondition(condition(m))` is latent.
#[test]
fn condition_and_uncondition_act_in_stack_order() {
    let reconditioned = condition(uncondition(nnn_model), [("obs", Value::Real(1.0))]);
    let tr = trace(reconditioned).get_trace(()).unwrap();
    assert!(tr.get("obs").unwrap().is_observed);
    assert_eq!(value(&tr, "obs"), Some(Value::Real(1.0)));

    let unconditioned = uncondition(condition(nnn_model, [("latent1", Value::Real(0.5))]));
    let tr = trace(unconditioned).get_trace(()).unwrap();
    let l1 = tr.get("latent1").unwrap();
    assert!(!l1.is_observed);
    assert_ne!(l1.value, Some(Value::Real(0.5)));
    assert!(!tr.get("obs").unwrap().is_observed);
}

// ---------------------------------------------------------------------------------------------
// intervene (do)
// ---------------------------------------------------------------------------------------------

/// Ports `ConditionHandlerTests.test_do_propagation`: an intervention upstream changes the
/// draws downstream.
#[test]
fn an_intervention_propagates_downstream() {
    let m = |_: ()| -> Res<bool> {
        let z = sample("z", Normal::new(10.0, 1e-4))?;
        let p = 1.0 / (1.0 + (-z).exp());
        sample("flip", Bernoulli::new(p))
    };
    // P(flip) = sigmoid(10) = 1 - 4.5e-5 under the model, sigmoid(-10) = 4.5e-5 under do(z=-10);
    // the seeds fix the draws.
    assert!(seed(m, 0).call(()).unwrap());
    assert!(
        !seed(intervene(m, [("z", Value::Real(-10.0))]), 0)
            .call(())
            .unwrap()
    );
}

/// Pyro's `test_counterfactual_query`: x -> y -> z -> w with observations and interventions.
mod counterfactual {
    use super::*;

    type Chain = (f64, f64, f64, f64);

    fn chain(_: ()) -> Res<Chain> {
        let x = sample("x", Normal::new(0.0, 1.0))?;
        let y = sample("y", Normal::new(x, 1.0))?;
        let z = sample("z", Normal::new(y, 1.0))?;
        let w = sample("w", Normal::new(z, 1.0))?;
        Ok((x.value(), y.value(), z.value(), w.value()))
    }

    const SITES: [&str; 4] = ["x", "y", "z", "w"];
    const OBSERVATIONS: [Option<f64>; 4] = [Some(1.0), None, Some(1.0), Some(1.0)];
    const INTERVENTIONS: [Option<f64>; 4] = [None, Some(0.0), Some(2.0), Some(1.0)];

    fn pairs(values: [Option<f64>; 4]) -> Vec<(&'static str, Value)> {
        SITES
            .iter()
            .zip(values)
            .filter_map(|(n, v)| Some((*n, Value::Real(v?))))
            .collect()
    }

    /// Checks a trace of `chain` under `intervened` and/or `observed` handlers.
    fn check(tr: &Trace, intervened: bool, observed: bool) {
        let out = tr.output::<Chain>().unwrap();
        let returned = [out.0, out.1, out.2, out.3];
        for (i, name) in SITES.iter().enumerate() {
            let node = tr.get(*name).unwrap();
            let recorded = real(tr, *name);
            let (obs, int) = (OBSERVATIONS[i], INTERVENTIONS[i]);
            if observed && let Some(o) = obs {
                assert!(node.is_observed, "{name}");
                assert_eq!(recorded, o, "{name}");
            }
            if intervened && let Some(v) = int {
                // The program continues with the intervention value.
                assert_eq!(returned[i], v, "{name}");
            }
            if intervened && int != obs {
                // The recorded site is the copy, not the intervention.
                assert_ne!(Some(recorded), int, "{name}");
            }
            if !observed {
                assert!(!node.is_observed, "{name}");
                assert_ne!(Some(recorded), obs, "{name}");
            }
            if !intervened && obs.is_some() {
                assert_eq!(returned[i], recorded, "{name}");
            }
            assert!(!tr.contains(format!("{name}__CF")));
        }
    }

    #[test]
    fn observation_only() {
        let tr = trace(condition(chain, pairs(OBSERVATIONS)))
            .get_trace(())
            .unwrap();
        check(&tr, false, true);
    }

    #[test]
    fn intervention_only() {
        let tr = trace(intervene(chain, pairs(INTERVENTIONS)))
            .get_trace(())
            .unwrap();
        check(&tr, true, false);
    }

    #[test]
    fn condition_outside_intervene() {
        let m = condition(intervene(chain, pairs(INTERVENTIONS)), pairs(OBSERVATIONS));
        check(&trace(m).get_trace(()).unwrap(), true, true);
    }

    #[test]
    fn intervene_outside_condition() {
        let m = intervene(condition(chain, pairs(OBSERVATIONS)), pairs(INTERVENTIONS));
        check(&trace(m).get_trace(()).unwrap(), true, true);
    }
}

/// Ports `test_decorator_interface_do` (with Pyro 1.9 semantics): the program sees the
/// intervention value; an inner trace also records the renamed, observed `x__CF`.
#[test]
fn intervention_value_reaches_the_program_and_the_renamed_site() {
    let do_x = InterveneMessenger::new([("x", Value::Real(1.0))]);
    let (out, tr) = TraceMessenger::record(|| do_x.run(|| mixed_model(()))).unwrap();
    assert_eq!(out.0, 1.0);
    assert_eq!(names(&tr), ["x", "y", "z"]);
    assert_ne!(value(&tr, "x"), Some(Value::Real(1.0)));
    let (_, (tracer, _)) = with_handler(InterveneMessenger::new([("x", Value::Real(1.0))]), || {
        with_handler(TraceMessenger::new(), || mixed_model(()))
    });
    let inner = tracer.into_trace();
    let cf = inner.get("x__CF").unwrap();
    assert!(cf.is_observed);
    assert_eq!(cf.value, Some(Value::Real(1.0)));
}

/// SEMANTICS 3 (`do`): two interventions on one site are a clear error.
#[test]
fn two_interventions_on_one_site_are_an_error() {
    let m = intervene(
        intervene(mixed_model, [("z", Value::Real(1.0))]),
        [("z", Value::Real(2.0))],
    );
    let err = trace(m).get_trace(()).unwrap_err();
    assert_eq!(err.to_string(), "site 'z' is intervened on twice");
    assert_eq!(stack_depth(), 0);
}

// ---------------------------------------------------------------------------------------------
// escape
// ---------------------------------------------------------------------------------------------

/// Ports `EscapeHandlerTests.test_discrete_escape`.
#[test]
fn escape_at_the_first_discrete_site() {
    let site = escaped(escape(mixed_model, discrete_escape).call(()));
    assert_eq!(site.name, "y");
    assert_eq!(stack_depth(), 0);
}

/// Ports `EscapeHandlerTests.test_all_escape`.
#[test]
fn escape_at_the_first_site() {
    let site = escaped(escape(mixed_model, all_escape).call(()));
    assert_eq!(site.name, "x");
}

/// Ports `EscapeHandlerTests.test_trace_compose`: a trace inside the escape records the
/// escaped site; a trace outside does not.
#[test]
fn a_trace_inside_an_escape_records_the_site_one_outside_does_not() {
    let (tracer, result) = EscapeMessenger::new(all_escape)
        .run(|| with_handler(TraceMessenger::new(), || mixed_model(())));
    escaped(result);
    assert!(tracer.into_trace().contains("x"));
    let (tracer, result) = with_handler(TraceMessenger::new(), || {
        escape(mixed_model, all_escape).call(())
    });
    escaped(result);
    assert!(!tracer.into_trace().contains("x"));
    assert_eq!(stack_depth(), 0);
}

// ---------------------------------------------------------------------------------------------
// lift, infer_config, substitute, param
// ---------------------------------------------------------------------------------------------

/// Ports `LiftHandlerTests.test_prior_dict` and `test_unlifted_param`: params with a prior
/// become latent sample sites, the others stay params.
#[test]
fn lift_by_name_turns_only_the_named_params_into_samples() {
    let tag = "lift_prior_dict";
    let (loc1, scale1) = (pname(tag, "loc1"), pname(tag, "scale1"));
    let priors: Vec<(String, AnyDistribution)> = vec![
        (loc1.clone(), Normal::new(0.0, 1.0).unwrap().into()),
        (scale1.clone(), LogNormal::new(0.0, 1.0).unwrap().into()),
    ];
    let lifted = trace(LiftMessenger::by_name(priors).wrap(nnn_guide(tag)))
        .get_trace(())
        .unwrap();
    for (name, family) in [(&loc1, "Normal"), (&scale1, "LogNormal")] {
        let site = lifted.get(name).unwrap();
        assert_eq!(site.kind, SiteKind::Sample, "{name}");
        assert!(!site.is_observed);
        assert_eq!(site.family(), Some(family));
        assert!(!with_param_store(|s| s.contains(name)));
    }
    let plain = trace(nnn_guide(tag)).get_trace(()).unwrap();
    assert_eq!(names(&lifted), names(&plain));
    for p in ["loc2", "scale2"] {
        assert_eq!(lifted.get(pname(tag, p)).unwrap().kind, SiteKind::Param);
    }
    // One prior for all: every param is a sample site.
    let all = trace(lift(nnn_guide(tag), Exponential::new(1.0).unwrap()))
        .get_trace(())
        .unwrap();
    assert_eq!(all.param_nodes().count(), 0);
    assert_eq!(all.stochastic_nodes().count(), 6);
}

/// Ports `LiftHandlerTests.test_memoize`: a repeated param gets the first draw and one site.
#[test]
fn lift_gives_a_repeated_param_its_first_draw_and_one_site() {
    let name = "lift_memoize_loc";
    let m = move |_: ()| -> Res<(f64, f64)> {
        let a: f64 = param(name, 0.0, Constraint::Real)?;
        let b: f64 = param(name, 0.0, Constraint::Real)?;
        Ok((a, b))
    };
    let tr = trace(lift(m, Normal::new(0.0, 1.0).unwrap()))
        .get_trace(())
        .unwrap();
    let (a, b) = *tr.output::<(f64, f64)>().unwrap();
    assert_eq!(a, b);
    assert_eq!(names(&tr), [name]);
    assert_eq!(real(&tr, name), a);
    assert!(!with_param_store(|s| s.contains(name)));
}

/// Ports `InferConfigHandlerTests.test_infer_config_sample`: the returned map is merged into
/// the existing `infer` of sample sites; an empty map changes nothing.
#[test]
fn infer_config_merges_into_the_existing_config() {
    let p = "infer_config_p";
    let m = move |_: ()| -> Res<()> {
        param(p, 0.0, Constraint::Real)?;
        let enumerate_a = |s: &Site| {
            let mut c = InferConfig::new();
            if s.name == "a" {
                c.insert("enumerate", InferValue::Str("parallel".into()));
            }
            c
        };
        InferConfigMessenger::new(enumerate_a).run(|| sample("a", Bernoulli::new(0.5)))?;
        sample("b", Bernoulli::new(0.5))?;
        Ok(())
    };
    let config_fn = |s: &Site| {
        let mut c = InferConfig::new();
        if s.kind == SiteKind::Sample {
            c.insert("blah", InferValue::Bool(true));
        }
        c
    };
    let tr = trace(infer_config(m, config_fn)).get_trace(()).unwrap();
    let infer = |name: &str| -> Vec<(String, InferValue)> {
        tr.get(Name::from(name.to_string()))
            .unwrap()
            .infer
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };
    let parallel = InferValue::Str("parallel".into());
    let blah = InferValue::Bool(true);
    assert_eq!(
        infer("a"),
        [
            (String::from("enumerate"), parallel),
            (String::from("blah"), blah.clone())
        ]
    );
    assert_eq!(infer("b"), [(String::from("blah"), blah)]);
    assert!(infer(p).is_empty());
}

/// SEMANTICS 3 (`substitute`): substituted params neither read nor initialise the store; a
/// substituted latent value stays latent.
#[test]
fn substitute_fixes_params_without_touching_the_store() {
    let tag = "substitute_store";
    let (loc1, scale1) = (pname(tag, "loc1"), pname(tag, "scale1"));
    let data = [
        (loc1.clone(), Value::Real(5.0)),
        (scale1.clone(), Value::Real(0.1)),
        ("latent2".to_string(), Value::Real(-7.0)),
    ];
    let tr = trace(substitute(nnn_guide(tag), data))
        .get_trace(())
        .unwrap();
    assert_eq!(value(&tr, &loc1), Some(Value::Real(5.0)));
    assert_eq!(tr.get(&loc1).unwrap().kind, SiteKind::Param);
    assert!(!with_param_store(
        |s| s.contains(&loc1) || s.contains(&scale1)
    ));
    assert!(with_param_store(|s| s.contains(&pname(tag, "loc2"))));
    let l2 = tr.get("latent2").unwrap();
    assert!(!l2.is_observed);
    assert_eq!(l2.value, Some(Value::Real(-7.0)));
    // latent1 ~ Normal(5, 0.1): the substituted params were used.
    assert!((real(&tr, "latent1") - 5.0).abs() < 1.0);
}

// ---------------------------------------------------------------------------------------------
// scale, mask, plates: log_prob_sum
// ---------------------------------------------------------------------------------------------

/// SEMANTICS 3 (`scale`): nested scales multiply (2 then 3 gives 6), in `log_prob_sum`.
#[test]
fn nested_scales_multiply_the_log_prob_sum() {
    let m = scale(scale(nnn_model, 2.0).unwrap(), 3.0).unwrap();
    let tr = trace(m).get_trace(()).unwrap();
    assert!(tr.iter().all(|s| s.scale == 6.0));
    assert_close(tr.log_prob_sum(|_| true).unwrap(), 6.0 * nnn_log_joint(&tr));
    // Only the observation, through a filter.
    let obs = normal_lp(1.0, real(&tr, "latent2"), 1.0);
    assert_close(tr.log_prob_sum(|s| s.is_observed).unwrap(), 6.0 * obs);
}

/// A distribution whose density is NaN everywhere.
#[derive(Clone, Debug)]
struct NanDensity;

impl Distribution for NanDensity {
    type Value = f64;
    type Moment = f64;
    fn family(&self) -> &'static str {
        "NanDensity"
    }
    fn sample<R: Rng + ?Sized>(&self, _: &mut R) -> f64 {
        0.0
    }
    fn log_prob(&self, _: &f64) -> f64 {
        f64::NAN
    }
    fn support(&self) -> Constraint {
        Constraint::Real
    }
    fn mean(&self) -> Option<f64> {
        None
    }
    fn variance(&self) -> Option<f64> {
        None
    }
}

impl From<NanDensity> for AnyDistribution {
    fn from(d: NanDensity) -> Self {
        AnyDistribution::custom(d)
    }
}

/// SEMANTICS 3 (`mask`): masked log-probabilities are exactly 0, even where the density is
/// NaN or -inf, through scales; an unmasked NaN is an error naming the site.
#[test]
fn masks_zero_nan_and_negative_infinite_densities() {
    let m = |_: ()| -> Res<()> {
        observe("finite", Normal::new(0.0, 1.0), 0.5)?;
        MaskMessenger::new(false).run(|| -> Res<()> {
            observe("nan_density", NanDensity, 1.0)?;
            observe("outside_support", Uniform::new(0.0, 1.0), 2.0)?;
            Ok(())
        })
    };
    let tr = trace(scale(m, 4.0).unwrap()).get_trace(()).unwrap();
    let expected = 4.0 * normal_lp(0.5, 0.0, 1.0);
    assert_close(tr.log_prob_sum(|_| true).unwrap(), expected);
    // Per element: the masked-out element lies outside the support.
    let elements = |_: ()| -> Res<Reals> {
        MaskMessenger::new([true, false, true]).run(|| {
            observe(
                "u",
                Batched::iid(Uniform::new(0.0, 2.0)?, 3),
                vec![0.5, 3.0, 1.5],
            )
        })
    };
    let tr = trace(elements).get_trace(()).unwrap();
    assert_close(tr.log_prob_sum(|_| true).unwrap(), -2.0 * 2f64.ln());
    // Unmasked: -inf is a value, NaN an error naming the site.
    let inf = trace(|_: ()| observe("u", Uniform::new(0.0, 1.0), 2.0))
        .get_trace(())
        .unwrap();
    assert_eq!(inf.log_prob_sum(|_| true).unwrap(), f64::NEG_INFINITY);
    let nan = trace(|_: ()| observe("nan_density", NanDensity, 1.0))
        .get_trace(())
        .unwrap();
    assert_eq!(
        nan.log_prob_sum(|_| true).unwrap_err().to_string(),
        "Error while computing log_prob at site 'nan_density': log_prob is NaN"
    );
}

/// SEMANTICS 5: nested subsampled plates multiply their scales (8/2 inside 6/3 gives 8;
/// 10/4 gives 2.5), in `log_prob_sum`; the index sites score 0.
#[test]
fn subsampled_plates_scale_the_log_prob_sum() {
    let nested = |_: ()| -> Res<()> {
        Plate::new("outer", 6).subsample_size(3).run(|_| {
            Plate::new("inner", 8).subsample_size(2).run(|_| {
                // One element per (outer, inner) index: 3 * 2.
                observe("y", Batched::iid(Normal::new(0.0, 1.0)?, 6)?, vec![0.5; 6])?;
                Ok(())
            })
        })
    };
    let tr = trace(nested).get_trace(()).unwrap();
    assert_eq!(tr.get("y").unwrap().scale, 8.0);
    assert_close(
        tr.log_prob_sum(|_| true).unwrap(),
        8.0 * 6.0 * normal_lp(0.5, 0.0, 1.0),
    );
    assert_eq!(tr.log_prob_sum(|s| s.is_subsample()).unwrap(), 0.0);
    let single = |_: ()| {
        Plate::new("outer", 10)
            .subsample_size(4)
            .run(|_| observe("y", Batched::iid(Normal::new(0.0, 1.0)?, 4)?, vec![-1.5; 4]))
    };
    let tr = trace(single).get_trace(()).unwrap();
    assert_close(
        tr.log_prob_sum(|_| true).unwrap(),
        2.5 * 4.0 * normal_lp(-1.5, 0.0, 1.0),
    );
}

/// Pyro's `IndirectLambdaHandlerTests` model: nested sequential plates with subsampling.
fn indirect_model((outer, inner): (Option<usize>, Option<usize>)) -> Res<()> {
    let subsampled = |plate: Plate, k: Option<usize>| match k {
        Some(k) => plate.subsample_size(k),
        None => plate,
    };
    let loc = sample("loc_latent", Normal::new(0.0, 1.0))?;
    subsampled(Plate::new("plate_outer", 2), outer).for_each(|i| {
        subsampled(Plate::new(format!("plate_inner_{i}"), 2), inner).for_each(|j| {
            sample(format!("z_{i}_{j}"), Normal::new(loc + 1.0, 1.0))?;
            Ok(())
        })
    })
}

/// Ports `IndirectLambdaHandlerTests.test_scale_factors`.
#[test]
fn nested_sequential_plates_scale_each_site() {
    for ((outer, inner), expected) in [
        ((1, 1), vec![4.0]),
        ((2, 2), vec![1.0; 4]),
        ((1, 2), vec![2.0; 2]),
        ((2, 1), vec![2.0; 2]),
    ] {
        let tr = trace(indirect_model)
            .get_trace((Some(outer), Some(inner)))
            .unwrap();
        let scales: Vec<f64> = tr
            .iter()
            .filter(|s| s.name.to_string().starts_with("z_"))
            .map(|s| s.scale)
            .collect();
        assert_eq!(scales, expected, "batch sizes ({outer}, {inner})");
    }
}

/// Ports `IndirectLambdaHandlerTests.test_graph_structure`: in the dense graph, the z's depend
/// on `loc_latent` only, not on each other across plate iterations.
#[test]
fn sequential_plate_iterations_are_independent_in_the_dense_graph() {
    let tr = trace(indirect_model).get_trace((None, None)).unwrap();
    let graph = tr.dependency_graph(GraphType::Dense);
    let nodes: BTreeSet<String> = graph
        .nodes()
        .map(ToString::to_string)
        .filter(|n| !n.starts_with("plate_"))
        .collect();
    let expected: BTreeSet<String> = ["loc_latent", "z_0_0", "z_0_1", "z_1_0", "z_1_1"]
        .map(String::from)
        .into();
    assert_eq!(nodes, expected);
    let edges: BTreeSet<(String, String)> = graph
        .edges()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let expected: BTreeSet<(String, String)> = ["z_0_0", "z_0_1", "z_1_0", "z_1_1"]
        .iter()
        .map(|z| ("loc_latent".to_string(), z.to_string()))
        .collect();
    assert_eq!(edges, expected);
}

/// SEMANTICS 5: replay reuses the guide's minibatch; a model whose plate has another
/// subsample size is an error naming the plate.
#[test]
fn model_and_guide_must_agree_on_the_subsample_size() {
    let program = |k: usize| {
        move |_: ()| -> Res<Vec<usize>> {
            Plate::new("data", 10).subsample_size(k).run(|idx| {
                sample("local", Batched::iid(Normal::new(0.0, 1.0)?, idx.len()))?;
                Ok(idx.iter().collect())
            })
        }
    };
    let guide_tr = trace(program(3)).get_trace(()).unwrap();
    let tr = trace(replay(program(3), guide_tr.clone()))
        .get_trace(())
        .unwrap();
    assert_eq!(tr.output::<Vec<usize>>(), guide_tr.output::<Vec<usize>>());
    assert_eq!(tr.get("local").unwrap().scale, 10.0 / 3.0);
    let err = trace(replay(program(4), guide_tr))
        .get_trace(())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "plate 'data': subsample_size 4 does not match the 3 indices supplied; do the model and \
         the guide use different subsample sizes?"
    );
    assert_eq!(stack_depth(), 0);
}

// ---------------------------------------------------------------------------------------------
// seed and the stack
// ---------------------------------------------------------------------------------------------

/// SEMANTICS 3 (`seed`): a seeded model gives the same draws on every call, on any thread,
/// whatever the thread's own generator holds.
#[test]
fn seeded_traces_are_identical_on_every_call_and_thread() {
    let seeded = seed(mixed_model, 17);
    set_rng_seed(1);
    let first = trace(seeded.clone()).get_trace(()).unwrap();
    set_rng_seed(2);
    let second = trace(seeded.clone()).get_trace(()).unwrap();
    for site in first.iter() {
        assert_eq!(value(&second, &site.name), site.value, "{}", site.name);
    }
    let other_thread = std::thread::spawn(move || {
        set_rng_seed(3);
        let tr = trace(seeded).get_trace(()).unwrap();
        tr.output::<(f64, bool, f64)>().copied()
    });
    assert_eq!(
        other_thread.join().unwrap().as_ref(),
        first.output::<(f64, bool, f64)>()
    );
    assert_ne!(
        seed(mixed_model, 18).call(()).unwrap().0,
        first.output::<(f64, bool, f64)>().unwrap().0
    );
}

/// SEMANTICS 3 (`seed`): "installs a deterministic RNG for the wrapped call": the sites an
/// inner `block` hides are drawn inside the seeded call too, so they are deterministic.
#[test]
fn a_seeded_model_is_deterministic_even_when_it_blocks_its_sites() {
    let seeded = seed(block(mixed_model), 5);
    set_rng_seed(1);
    let a = seeded.call(()).unwrap();
    set_rng_seed(2);
    let b = seeded.call(()).unwrap();
    assert_eq!(a, b);
}

/// SEMANTICS 2: the stack is restored after every error, whatever the composition.
#[test]
fn the_stack_is_empty_after_errors_in_any_composition() {
    let dup = |_: ()| -> Res<()> {
        sample("d", Normal::new(0.0, 1.0))?;
        sample("d", Normal::new(0.0, 1.0))?;
        Ok(())
    };
    let bad_param = |_: ()| -> Res<()> {
        Plate::new("p", 4).for_each(|i| {
            let scale = if i == 2 { -1.0 } else { 1.0 };
            sample(Name::indexed("x", i as u64), Normal::new(0.0, scale))?;
            Ok(())
        })
    };
    let observed = trace(condition(nnn_model, [("latent1", Value::Real(0.0))]))
        .get_trace(())
        .unwrap();
    let errors: Vec<(&str, Res<()>)> = vec![
        (
            "duplicate",
            trace(seed(scale(mask(dup, true), 2.0).unwrap(), 1))
                .get_trace(())
                .map(drop),
        ),
        (
            "invalid parameter",
            trace(condition(bad_param, [("x_0", Value::Real(0.0))]))
                .get_trace(())
                .map(drop),
        ),
        (
            "replay",
            trace(uncondition(replay(nnn_model, observed)))
                .get_trace(())
                .map(drop),
        ),
        (
            "intervene twice",
            intervene(
                intervene(mixed_model, [("x", Value::Real(0.0))]),
                [("x", Value::Real(1.0))],
            )
            .call(())
            .map(drop),
        ),
        (
            "escape",
            trace(block(escape(mixed_model, all_escape)))
                .get_trace(())
                .map(drop),
        ),
        (
            "strict condition",
            ConditionMessenger::new([("nope", Value::Real(0.0))])
                .strict()
                .wrap(trace(nnn_model))
                .call(())
                .map(drop),
        ),
        (
            "mask length",
            mask(nnn_model, [true, false]).call(()).map(drop),
        ),
        (
            "value type",
            condition(mixed_model, [("y", Value::Real(0.5))])
                .call(())
                .map(drop),
        ),
    ];
    for (label, result) in errors {
        assert!(result.is_err(), "{label}");
        assert_eq!(stack_depth(), 0, "{label}");
    }
    let panicked = std::panic::catch_unwind(|| {
        trace(scale(|_: ()| -> Res<()> { panic!("model bug") }, 2.0).unwrap()).get_trace(())
    });
    assert!(panicked.is_err());
    assert_eq!(stack_depth(), 0);
}
