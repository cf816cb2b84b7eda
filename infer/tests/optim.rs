//! The optimisers against update sequences of an independent NumPy implementation of torch's
//! `SGD` and `Adam` and Pyro's `ClippedAdam` (`data/optim_reference.py`), and their state,
//! errors, schedules and convergence.

use pyro_infer::poutine::ParamStore;
use pyro_infer::poutine::distributions::{Constraint, Value};
use pyro_infer::{Adam, ClippedAdam, InferError, Optimizer, Schedule, Sgd};
use serde_json::Value as Json;

/// The reference: `data/optim_reference.json`.
fn reference() -> Json {
    serde_json::from_str(include_str!("data/optim_reference.json")).expect("valid JSON")
}

fn floats(json: &Json) -> Vec<f64> {
    json.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

/// Equal to 1e-12 relative.
fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

fn assert_close(actual: &[f64], expected: &[f64], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            close(*a, *e),
            "{what}[{i}]: {a} but the reference has {e} (relative error {:e})",
            ((a - e) / e).abs()
        );
    }
}

/// The optimiser of a reference case, built from its settings.
enum Built {
    Sgd(Sgd),
    Adam(Adam),
    ClippedAdam(ClippedAdam),
}

fn build(case: &Json) -> Built {
    let config = &case["config"];
    let get = |key: &str| config.get(key).and_then(Json::as_f64);
    let betas = config.get("betas").map(floats);
    let schedule = match case["schedule"].get("kind").and_then(Json::as_str) {
        None => Schedule::Constant,
        Some("exponential") => Schedule::Exponential {
            gamma: case["schedule"]["gamma"].as_f64().unwrap(),
        },
        Some("step") => Schedule::Step {
            step_size: case["schedule"]["step_size"].as_u64().unwrap(),
            gamma: case["schedule"]["gamma"].as_f64().unwrap(),
        },
        Some(other) => panic!("unknown schedule {other}"),
    };
    let lr = get("lr").unwrap();
    match case["optimizer"].as_str().unwrap() {
        "sgd" => {
            let mut o = Sgd::new(lr).unwrap().schedule(schedule).unwrap();
            if let Some(m) = get("momentum") {
                o = o.momentum(m).unwrap();
            }
            if let Some(d) = get("dampening") {
                o = o.dampening(d).unwrap();
            }
            if let Some(w) = get("weight_decay") {
                o = o.weight_decay(w).unwrap();
            }
            if let Some(c) = get("clip_norm") {
                o = o.clip_norm(c).unwrap();
            }
            if let Some(c) = get("clip_value") {
                o = o.clip_value(c).unwrap();
            }
            Built::Sgd(o)
        }
        "adam" => {
            let mut o = Adam::new(lr).unwrap().schedule(schedule).unwrap();
            if let Some(b) = betas {
                o = o.betas(b[0], b[1]).unwrap();
            }
            if let Some(e) = get("eps") {
                o = o.eps(e).unwrap();
            }
            if let Some(w) = get("weight_decay") {
                o = o.weight_decay(w).unwrap();
            }
            if let Some(c) = get("clip_norm") {
                o = o.clip_norm(c).unwrap();
            }
            if let Some(c) = get("clip_value") {
                o = o.clip_value(c).unwrap();
            }
            Built::Adam(o)
        }
        "clipped_adam" => {
            let mut o = ClippedAdam::new(lr).unwrap().schedule(schedule).unwrap();
            if let Some(b) = betas {
                o = o.betas(b[0], b[1]).unwrap();
            }
            if let Some(e) = get("eps") {
                o = o.eps(e).unwrap();
            }
            if let Some(w) = get("weight_decay") {
                o = o.weight_decay(w).unwrap();
            }
            if let Some(c) = get("clip_norm") {
                o = o.clip_norm(c).unwrap();
            }
            if let Some(d) = get("lrd") {
                o = o.lrd(d).unwrap();
            }
            Built::ClippedAdam(o)
        }
        other => panic!("unknown optimiser {other}"),
    }
}

/// Replays a case step by step: the learning rate of every round and of every parameter's
/// step, and the value after every step. `lr_for` is the rate the next step of a parameter
/// will use.
fn replay<O: Optimizer>(
    reference: &Json,
    case: &Json,
    mut opt: O,
    lr_for: impl Fn(&O, &str) -> f64,
) {
    let name = case["name"].as_str().unwrap();
    let params = reference["params"].as_array().unwrap();
    let mut values: Vec<Vec<f64>> = params.iter().map(|p| floats(&p["init"])).collect();
    for round in case["rounds"].as_array().unwrap() {
        let r = round["round"].as_u64().unwrap();
        let lr = round["lr"].as_f64().unwrap();
        assert!(
            close(opt.learning_rate(), lr),
            "{name}, round {r}: learning rate {} but the reference has {lr}",
            opt.learning_rate()
        );
        assert_eq!(opt.schedule_steps(), r);
        for (param, value) in params.iter().zip(&mut values) {
            let p = param["name"].as_str().unwrap();
            let Some(step) = round["params"].get(p) else {
                assert_eq!(opt.state_len(p), None, "{name}: '{p}' is not stepped yet");
                continue;
            };
            let what = format!("{name}, round {r}, '{p}'");
            let used = step["lr"].as_f64().unwrap();
            assert!(
                close(lr_for(&opt, p), used),
                "{what}: rate {}",
                lr_for(&opt, p)
            );
            opt.step(p, value, &floats(&step["grad"])).unwrap();
            assert_close(value, &floats(&step["value"]), &what);
            assert_eq!(opt.state_len(p), Some(value.len()));
        }
        opt.advance_schedule();
    }
}

/// Replays a case through a parameter store (`b` a scalar, the others vectors), one
/// `step_store` per round.
fn replay_store<O: Optimizer>(reference: &Json, case: &Json, mut opt: O) {
    let name = case["name"].as_str().unwrap();
    let params = reference["params"].as_array().unwrap();
    let mut store = ParamStore::new();
    for p in params {
        let init = floats(&p["init"]);
        let (value, constraint) = if init.len() == 1 {
            (Value::Real(init[0]), Constraint::Real)
        } else {
            (Value::Reals(init), Constraint::RealVector)
        };
        let p = p["name"].as_str().unwrap();
        store
            .get_or_init(p.to_string().into(), value, constraint)
            .unwrap();
    }
    for round in case["rounds"].as_array().unwrap() {
        let r = round["round"].as_u64().unwrap();
        let grads: Vec<(String, Vec<f64>)> = round["params"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(p, step)| (p.clone(), floats(&step["grad"])))
            .collect();
        opt.step_store(&mut store, &grads).unwrap();
        for (p, step) in round["params"].as_object().unwrap() {
            let actual = match store.unconstrained(p).unwrap() {
                Value::Real(x) => {
                    assert_eq!(p, "b", "only b is a scalar");
                    vec![*x]
                }
                Value::Reals(v) => v.clone(),
                other => panic!("{other:?}"),
            };
            let what = format!("{name} (store), round {r}, '{p}'");
            assert_close(&actual, &floats(&step["value"]), &what);
        }
        opt.advance_schedule();
    }
}

#[test]
fn the_reference_has_every_case() {
    let reference = reference();
    let cases = reference["cases"].as_array().unwrap();
    let kinds: Vec<&str> = cases
        .iter()
        .map(|c| c["optimizer"].as_str().unwrap())
        .collect();
    assert_eq!(cases.len(), 11);
    for kind in ["sgd", "adam", "clipped_adam"] {
        assert!(kinds.iter().filter(|k| **k == kind).count() >= 3, "{kind}");
    }
    // Some gradient exceeds the clipping bound in each clipped case.
    for case in cases {
        let clipped =
            case["optimizer"] == "clipped_adam" || case["config"].get("clip_norm").is_some();
        if clipped {
            let biggest = case["rounds"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r["params"].as_object().unwrap().values())
                .flat_map(|p| floats(&p["grad"]))
                .fold(0.0_f64, |m, g| m.max(g.abs()));
            let bound = case["config"]
                .get("clip_norm")
                .and_then(Json::as_f64)
                .unwrap_or(10.0);
            assert!(biggest > bound, "{}", case["name"]);
        }
    }
}

#[test]
fn every_optimiser_matches_the_reference_step_by_step() {
    let reference = reference();
    for case in reference["cases"].as_array().unwrap() {
        match build(case) {
            Built::Sgd(o) => replay(&reference, case, o, |o, _| o.learning_rate()),
            Built::Adam(o) => replay(&reference, case, o, |o, _| o.learning_rate()),
            Built::ClippedAdam(o) => replay(&reference, case, o, |o, p| o.lr_for(p)),
        }
    }
}

#[test]
fn every_optimiser_matches_the_reference_through_the_param_store() {
    let reference = reference();
    for case in reference["cases"].as_array().unwrap() {
        match build(case) {
            Built::Sgd(o) => replay_store(&reference, case, o),
            Built::Adam(o) => replay_store(&reference, case, o),
            Built::ClippedAdam(o) => replay_store(&reference, case, o),
        }
    }
}

/// Each of the optimisers, with every feature that keeps state or depends on the step count.
fn optimisers() -> Vec<Box<dyn Optimizer>> {
    vec![
        Box::new(Sgd::new(0.05).unwrap()),
        Box::new(
            Sgd::new(0.05)
                .unwrap()
                .momentum(0.9)
                .unwrap()
                .dampening(0.1)
                .unwrap()
                .clip_norm(1.0)
                .unwrap(),
        ),
        Box::new(Adam::new(0.1).unwrap().weight_decay(0.01).unwrap()),
        Box::new(
            ClippedAdam::new(0.1)
                .unwrap()
                .clip_norm(1.0)
                .unwrap()
                .lrd(0.9)
                .unwrap(),
        ),
    ]
}

fn gradient(x: &[f64], k: usize) -> Vec<f64> {
    x.iter()
        .enumerate()
        .map(|(i, x)| (i as f64 + 1.0) * (x - 1.0) + (k as f64 * 0.7).sin())
        .collect()
}

#[test]
fn state_is_kept_per_parameter() {
    for (alternate, (alone_a, alone_b)) in optimisers()
        .into_iter()
        .zip(optimisers().into_iter().zip(optimisers()))
    {
        let mut alternate = alternate;
        let (mut alone_a, mut alone_b) = (alone_a, alone_b);
        let (mut a1, mut b1) = (vec![0.5, -2.0, 3.0], vec![4.0]);
        let (mut a2, mut b2) = (a1.clone(), b1.clone());
        for k in 0..20 {
            let (ga, gb) = (gradient(&a1, k), gradient(&b1, k + 3));
            alternate.step("a", &mut a1, &ga).unwrap();
            alternate.step("b", &mut b1, &gb).unwrap();
            let g = gradient(&a2, k);
            alone_a.step("a", &mut a2, &g).unwrap();
            let g = gradient(&b2, k + 3);
            alone_b.step("b", &mut b2, &g).unwrap();
        }
        assert_eq!(a1, a2);
        assert_eq!(b1, b2);
        assert_eq!(alternate.state_len("a"), Some(3));
        assert_eq!(alternate.state_len("b"), Some(1));
        // Forgetting one parameter restarts it alone.
        assert!(alternate.forget("a"));
        assert!(!alternate.forget("a"));
        assert_eq!(alternate.state_len("a"), None);
        assert_eq!(alternate.state_len("b"), Some(1));
        alternate.reset();
        assert_eq!(alternate.state_len("b"), None);
    }
}

fn invalid_argument(e: InferError) -> (&'static str, String) {
    let message = e.to_string();
    match e {
        InferError::InvalidArgument { name, .. } => (name, message),
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn a_parameter_that_changes_length_is_an_error_naming_it() {
    for mut opt in optimisers() {
        let mut x = vec![1.0, 2.0];
        opt.step("loc", &mut x, &[0.1, 0.2]).unwrap();
        let mut longer = vec![1.0, 2.0, 3.0];
        let (name, message) =
            invalid_argument(opt.step("loc", &mut longer, &[0.1, 0.2, 0.3]).unwrap_err());
        assert_eq!(name, "value");
        assert!(
            message.contains("'loc'") && message.contains("3") && message.contains("2"),
            "{message}"
        );
        assert_eq!(longer, vec![1.0, 2.0, 3.0], "unchanged");
        // A gradient of another length than the value.
        let (name, message) = invalid_argument(opt.step("loc", &mut x, &[0.1]).unwrap_err());
        assert_eq!(name, "grad");
        assert!(message.contains("'loc'"), "{message}");
        // Forgotten, it starts over at its new length.
        opt.forget("loc");
        opt.step("loc", &mut longer, &[0.1, 0.2, 0.3]).unwrap();
        assert_eq!(opt.state_len("loc"), Some(3));
    }
}

#[test]
fn a_non_finite_gradient_is_an_error_that_changes_nothing() {
    for (mut opt, mut fresh) in optimisers().into_iter().zip(optimisers()) {
        let mut x = vec![1.0, 2.0];
        let mut y = x.clone();
        opt.step("scale", &mut x, &[0.5, -0.5]).unwrap();
        fresh.step("scale", &mut y, &[0.5, -0.5]).unwrap();
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let (name, message) =
                invalid_argument(opt.step("scale", &mut x, &[0.1, bad]).unwrap_err());
            assert_eq!(name, "grad");
            assert!(
                message.contains("'scale'") && message.contains("coordinate 1"),
                "{message}"
            );
            assert_eq!(x, y, "the value is unchanged");
        }
        // The state is unchanged too: the next step is the one the failed steps never took.
        opt.step("scale", &mut x, &[0.3, 0.2]).unwrap();
        fresh.step("scale", &mut y, &[0.3, 0.2]).unwrap();
        assert_eq!(x, y);
        // A non-finite value is refused too.
        let (name, _) = invalid_argument(
            opt.step("scale", &mut [f64::NAN, 0.0], &[0.1, 0.1])
                .unwrap_err(),
        );
        assert_eq!(name, "value");
    }
}

fn store() -> ParamStore {
    let mut store = ParamStore::new();
    store
        .get_or_init(
            "loc".into(),
            Value::Reals(vec![0.0, 1.0]),
            Constraint::RealVector,
        )
        .unwrap();
    store
        .get_or_init("scale".into(), Value::Real(2.0), Constraint::Positive)
        .unwrap();
    store
}

#[test]
fn step_store_errors_name_the_parameter_and_change_nothing() {
    let mut opt = Adam::new(0.1).unwrap();
    let mut store = store();
    let before = store.clone();
    // An unknown name, after a good one.
    let grads = vec![
        ("loc".to_string(), vec![1.0, 1.0]),
        ("lco".to_string(), vec![1.0]),
    ];
    let (name, message) = invalid_argument(opt.step_store(&mut store, &grads).unwrap_err());
    assert_eq!(name, "grads");
    assert!(message.contains("'lco'"), "{message}");
    assert_eq!(store, before);
    assert_eq!(opt.state_len("loc"), None);
    // A name given twice.
    let grads = vec![
        ("scale".to_string(), vec![1.0]),
        ("scale".to_string(), vec![1.0]),
    ];
    let (_, message) = invalid_argument(opt.step_store(&mut store, &grads).unwrap_err());
    assert!(
        message.contains("'scale'") && message.contains("more than once"),
        "{message}"
    );
    // A gradient of the wrong length or not finite, after a good one.
    for bad in [vec![1.0], vec![1.0, f64::NAN]] {
        let grads = vec![("scale".to_string(), vec![1.0]), ("loc".to_string(), bad)];
        let (name, message) = invalid_argument(opt.step_store(&mut store, &grads).unwrap_err());
        assert_eq!(name, "grad");
        assert!(message.contains("'loc'"), "{message}");
        assert_eq!(store, before);
        assert_eq!(opt.state_len("scale"), None);
    }
    // A parameter whose stored value is not real (only a loaded store can hold one).
    let json = store
        .save()
        .replace(r#"{"Real":0.6931471805599453}"#, r#"{"Int":1}"#);
    assert_ne!(json, store.save(), "the saved form of scale is as expected");
    let mut odd = ParamStore::new();
    odd.load(&json).unwrap();
    let grads = vec![("scale".to_string(), vec![1.0])];
    let (_, message) = invalid_argument(opt.step_store(&mut odd, &grads).unwrap_err());
    assert!(
        message.contains("'scale'") && message.contains("int"),
        "{message}"
    );
}

#[test]
fn step_store_updates_unconstrained_values() {
    let mut opt = Sgd::new(0.5).unwrap();
    let mut store = store();
    let grads = vec![
        ("scale".to_string(), vec![1.0]),
        ("loc".to_string(), vec![1.0, -2.0]),
    ];
    opt.step_store(&mut store, &grads).unwrap();
    assert_eq!(
        store.unconstrained("loc"),
        Some(&Value::Reals(vec![-0.5, 2.0]))
    );
    // Stepped on the log scale: scale = exp(ln 2 - 0.5).
    assert_eq!(
        store.unconstrained("scale"),
        Some(&Value::Real(2.0_f64.ln() - 0.5))
    );
    assert_eq!(
        store.get("scale"),
        Some(Value::Real((2.0_f64.ln() - 0.5).exp()))
    );
    // A parameter not named is left alone.
    opt.step_store(&mut store, &grads[1..]).unwrap();
    assert_eq!(
        store.unconstrained("scale"),
        Some(&Value::Real(2.0_f64.ln() - 0.5))
    );
}

#[test]
fn invalid_hyper_parameters_are_errors() {
    let cases: Vec<(Result<(), InferError>, &str, &str)> = vec![
        (Sgd::new(0.0).map(drop), "lr", "positive"),
        (Sgd::new(-1.0).map(drop), "lr", "-1"),
        (Adam::new(f64::NAN).map(drop), "lr", "NaN"),
        (ClippedAdam::new(f64::INFINITY).map(drop), "lr", "inf"),
        (
            Sgd::new(0.1).unwrap().momentum(1.0).map(drop),
            "momentum",
            "[0, 1)",
        ),
        (
            Sgd::new(0.1).unwrap().momentum(-0.1).map(drop),
            "momentum",
            "-0.1",
        ),
        (
            Sgd::new(0.1).unwrap().dampening(1.0).map(drop),
            "dampening",
            "[0, 1)",
        ),
        (
            Sgd::new(0.1).unwrap().weight_decay(-1.0).map(drop),
            "weight_decay",
            "-1",
        ),
        (
            Sgd::new(0.1).unwrap().clip_norm(0.0).map(drop),
            "clip_norm",
            "positive",
        ),
        (
            Sgd::new(0.1).unwrap().clip_value(f64::NAN).map(drop),
            "clip_value",
            "NaN",
        ),
        (
            Adam::new(0.1).unwrap().betas(1.0, 0.999).map(drop),
            "betas",
            "beta1",
        ),
        (
            Adam::new(0.1).unwrap().betas(0.9, -0.5).map(drop),
            "betas",
            "beta2",
        ),
        (
            Adam::new(0.1).unwrap().eps(0.0).map(drop),
            "eps",
            "positive",
        ),
        (
            Adam::new(0.1).unwrap().clip_norm(-2.0).map(drop),
            "clip_norm",
            "-2",
        ),
        (
            Adam::new(0.1)
                .unwrap()
                .weight_decay(f64::INFINITY)
                .map(drop),
            "weight_decay",
            "inf",
        ),
        (
            ClippedAdam::new(0.1).unwrap().betas(0.9, 1.0).map(drop),
            "betas",
            "beta2",
        ),
        (
            ClippedAdam::new(0.1).unwrap().eps(-1e-8).map(drop),
            "eps",
            "positive",
        ),
        (
            ClippedAdam::new(0.1).unwrap().clip_norm(0.0).map(drop),
            "clip_norm",
            "positive",
        ),
        (
            ClippedAdam::new(0.1).unwrap().lrd(0.0).map(drop),
            "lrd",
            "(0, 1]",
        ),
        (
            ClippedAdam::new(0.1).unwrap().lrd(1.5).map(drop),
            "lrd",
            "1.5",
        ),
        (
            Adam::new(0.1)
                .unwrap()
                .schedule(Schedule::Exponential { gamma: 0.0 })
                .map(drop),
            "schedule",
            "gamma",
        ),
        (
            Sgd::new(0.1)
                .unwrap()
                .schedule(Schedule::Exponential { gamma: f64::NAN })
                .map(drop),
            "schedule",
            "NaN",
        ),
        (
            ClippedAdam::new(0.1)
                .unwrap()
                .schedule(Schedule::Step {
                    step_size: 0,
                    gamma: 0.5,
                })
                .map(drop),
            "schedule",
            "step_size",
        ),
    ];
    for (result, expected, fragment) in cases {
        let (name, message) = invalid_argument(result.unwrap_err());
        assert_eq!(name, expected, "{message}");
        assert!(message.contains(fragment), "{message} lacks {fragment}");
    }
    // The edges that are allowed.
    Sgd::new(0.1).unwrap().momentum(0.0).unwrap();
    Adam::new(0.1).unwrap().betas(0.0, 0.0).unwrap();
    ClippedAdam::new(0.1).unwrap().lrd(1.0).unwrap();
}

#[test]
fn schedules_set_the_learning_rate_after_k_schedule_steps() {
    let mut exponential = Adam::new(0.2)
        .unwrap()
        .schedule(Schedule::Exponential { gamma: 0.9 })
        .unwrap();
    let mut step = Sgd::new(0.1)
        .unwrap()
        .schedule(Schedule::Step {
            step_size: 4,
            gamma: 0.5,
        })
        .unwrap();
    let mut constant = ClippedAdam::new(0.3).unwrap();
    let mut x = vec![1.0; 2];
    for k in 0..30_u64 {
        assert!(close(
            exponential.learning_rate(),
            0.2 * 0.9_f64.powi(k as i32)
        ));
        assert!(close(
            step.learning_rate(),
            0.1 * 0.5_f64.powi((k / 4) as i32)
        ));
        assert_eq!(constant.learning_rate(), 0.3);
        assert_eq!(exponential.schedule_steps(), k);
        // Stepping parameters does not advance the schedule.
        for p in ["a", "b", "c"] {
            exponential.step(p, &mut x, &[0.1, 0.1]).unwrap();
            step.step(p, &mut x, &[0.1, 0.1]).unwrap();
            constant.step(p, &mut x, &[0.1, 0.1]).unwrap();
        }
        exponential.advance_schedule();
        step.advance_schedule();
        constant.advance_schedule();
    }
    assert_eq!(step.learning_rate(), 0.1 * 0.5_f64.powi(7));
    // A reset restarts the schedule.
    exponential.reset();
    assert_eq!(exponential.learning_rate(), 0.2);
    assert_eq!(exponential.schedule_steps(), 0);
    // The factors in closed form.
    assert_eq!(Schedule::Constant.factor(1000), 1.0);
    assert_eq!(Schedule::default(), Schedule::Constant);
    assert_eq!(Schedule::Exponential { gamma: 0.5 }.factor(0), 1.0);
    assert_eq!(
        Schedule::Step {
            step_size: 3,
            gamma: 0.1
        }
        .factor(2),
        1.0
    );
    assert!(close(
        Schedule::Step {
            step_size: 3,
            gamma: 0.1
        }
        .factor(3),
        0.1
    ));
}

#[test]
fn clipped_adam_decays_each_parameter_from_its_own_first_step() {
    let mut opt = ClippedAdam::new(0.1)
        .unwrap()
        .lrd(0.5)
        .unwrap()
        .schedule(Schedule::Exponential { gamma: 0.1 })
        .unwrap();
    let mut a = vec![0.0];
    assert_eq!(opt.lr_for("a"), 0.1 * 0.5);
    for _ in 0..3 {
        opt.step("a", &mut a, &[1.0]).unwrap();
    }
    assert_eq!(opt.lr_for("a"), 0.1 * 0.0625);
    opt.advance_schedule();
    // The schedule multiplies every parameter's rate; a new parameter starts undecayed.
    assert!(close(opt.lr_for("a"), 0.01 * 0.0625));
    assert!(close(opt.lr_for("b"), 0.01 * 0.5));
    assert!(close(opt.learning_rate(), 0.01));
}

/// Minimises `sum_i a_i (x_i - c_i)^2 / 2` (ill-conditioned: `a` from 0.5 to 20) over a store.
fn minimise(opt: &mut dyn Optimizer, iterations: usize) -> Vec<f64> {
    let a = [0.5, 2.0, 20.0];
    let c = [1.0, -3.0, 0.25];
    let mut store = ParamStore::new();
    store
        .get_or_init(
            "x".into(),
            Value::Reals(vec![5.0, 5.0, 5.0]),
            Constraint::RealVector,
        )
        .unwrap();
    for _ in 0..iterations {
        let Some(Value::Reals(x)) = store.unconstrained("x") else {
            unreachable!()
        };
        let grad: Vec<f64> = (0..3).map(|i| a[i] * (x[i] - c[i])).collect();
        opt.step_store(&mut store, &[("x".to_string(), grad)])
            .unwrap();
        opt.advance_schedule();
    }
    let Some(Value::Reals(x)) = store.unconstrained("x") else {
        unreachable!()
    };
    x.iter().zip(c).map(|(x, c)| (x - c).abs()).collect()
}

#[test]
fn minimising_a_quadratic_converges() {
    let mut optimisers: Vec<(&str, Box<dyn Optimizer>, f64)> = vec![
        ("sgd", Box::new(Sgd::new(0.05).unwrap()), 1e-8),
        (
            "sgd with momentum",
            Box::new(Sgd::new(0.02).unwrap().momentum(0.9).unwrap()),
            1e-8,
        ),
        (
            "sgd clipped",
            Box::new(
                Sgd::new(0.05)
                    .unwrap()
                    .clip_norm(1.0)
                    .unwrap()
                    .clip_value(0.5)
                    .unwrap(),
            ),
            1e-8,
        ),
        (
            "adam",
            Box::new(
                Adam::new(0.1)
                    .unwrap()
                    .schedule(Schedule::Step {
                        step_size: 500,
                        gamma: 0.1,
                    })
                    .unwrap(),
            ),
            1e-4,
        ),
        (
            "adam clipped",
            Box::new(Adam::new(0.05).unwrap().clip_norm(1.0).unwrap()),
            1e-3,
        ),
        (
            "clipped adam",
            Box::new(
                ClippedAdam::new(0.1)
                    .unwrap()
                    .clip_norm(5.0)
                    .unwrap()
                    .lrd(0.999)
                    .unwrap(),
            ),
            1e-4,
        ),
    ];
    for (name, opt, tolerance) in &mut optimisers {
        let errors = minimise(opt.as_mut(), 2000);
        for e in errors {
            assert!(e < *tolerance, "{name}: off by {e}");
        }
    }
}

#[test]
fn an_optimiser_saved_mid_run_continues_the_same() {
    let mut opt = ClippedAdam::new(0.1)
        .unwrap()
        .lrd(0.99)
        .unwrap()
        .schedule(Schedule::Exponential { gamma: 0.95 })
        .unwrap();
    let mut x = vec![3.0, -1.0];
    for k in 0..5 {
        let g = gradient(&x, k);
        opt.step("x", &mut x, &g).unwrap();
        opt.advance_schedule();
    }
    let json = serde_json::to_string(&opt).unwrap();
    let mut restored: ClippedAdam = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, opt);
    let mut y = x.clone();
    for k in 5..10 {
        let g = gradient(&x, k);
        opt.step("x", &mut x, &g).unwrap();
        let g = gradient(&y, k);
        restored.step("x", &mut y, &g).unwrap();
    }
    assert_eq!(x, y);
}

#[test]
fn optimisers_are_send_and_object_safe() {
    fn send<T: Send>(_: &T) {}
    let boxed: Box<dyn Optimizer> = Box::new(Adam::new(0.1).unwrap());
    send(&boxed);
    let _ = std::thread::spawn(move || boxed.learning_rate())
        .join()
        .unwrap();
}
