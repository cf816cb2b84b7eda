//! Behaviour of the stack, the primitives, plates and the param store (SEMANTICS.md sections 2, 4,
//! 5), through the public API.

use pyro_poutine::distributions::Bernoulli;
use pyro_poutine::distributions::{Batched, Constraint, Normal, Real, Value};
use pyro_poutine::{
    ConditionMessenger, DirectSink, DirectSite, Handler, Messenger, Plate, PyroError, PyroRng,
    Site, TraceMessenger, apply_stack, deterministic, factor, observe, param, sample, set_rng_seed,
    stack_depth, trace, with_handler, with_param_store,
};
use rand::SeedableRng;
use std::cell::RefCell;
use std::rc::Rc;

/// A handler that logs its hook calls as `"<tag>.process"` / `"<tag>.post"`.
#[derive(Clone)]
struct Log {
    tag: &'static str,
    log: Rc<RefCell<Vec<String>>>,
    stop: bool,
}

impl Messenger for Log {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        self.log.borrow_mut().push(format!("{}.process", self.tag));
        msg.stop = self.stop;
        Ok(())
    }
    fn postprocess(&mut self, _: &mut Site) -> Result<(), PyroError> {
        self.log.borrow_mut().push(format!("{}.post", self.tag));
        Ok(())
    }
}

fn log(tag: &'static str, log: &Rc<RefCell<Vec<String>>>, stop: bool) -> Log {
    Log {
        tag,
        log: log.clone(),
        stop,
    }
}

#[test]
fn apply_stack_visits_inner_to_outer_then_back() {
    let events = Rc::new(RefCell::new(Vec::new()));
    log("outer", &events, false)
        .run(|| log("inner", &events, false).run(|| sample("x", Normal::new(0.0, 1.0))))
        .unwrap();
    assert_eq!(
        *events.borrow(),
        ["inner.process", "outer.process", "outer.post", "inner.post"]
    );
}

#[test]
fn stop_hides_the_message_from_outer_handlers_only() {
    let events = Rc::new(RefCell::new(Vec::new()));
    log("outer", &events, false)
        .run(|| {
            log("middle", &events, true)
                .run(|| log("inner", &events, false).run(|| sample("x", Normal::new(0.0, 1.0))))
        })
        .unwrap();
    assert_eq!(
        *events.borrow(),
        [
            "inner.process",
            "middle.process",
            "middle.post",
            "inner.post"
        ]
    );
}

#[test]
fn done_skips_only_the_default_draw() {
    struct Fix;
    impl Messenger for Fix {
        fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
            msg.value = Some(Value::Real(42.0));
            msg.done = true;
            Ok(())
        }
    }
    let (x, tr) =
        TraceMessenger::record(|| Fix.run(|| sample("x", Normal::new(0.0, 1.0)))).unwrap();
    assert_eq!(x, 42.0);
    // The outer trace still saw the message: `done` does not hide it.
    assert_eq!(tr.get("x").unwrap().value, Some(Value::Real(42.0)));
}

#[test]
fn no_handler_means_a_plain_draw_or_the_observation() {
    assert_eq!(stack_depth(), 0);
    assert_eq!(observe("y", Normal::new(0.0, 1.0), 1.25).unwrap(), 1.25);
    set_rng_seed(11);
    let a = sample("x", Normal::new(0.0, 1.0)).unwrap();
    set_rng_seed(11);
    assert_eq!(sample("x", Normal::new(0.0, 1.0)).unwrap(), a);
}

#[test]
fn stack_is_restored_after_errors_and_panics() {
    let failing = |()| -> Result<Real, PyroError> {
        sample("x", Normal::new(0.0, 1.0))?;
        sample("x", Normal::new(0.0, 1.0))
    };
    let err = trace(failing).get_trace(()).unwrap_err();
    assert_eq!(err.to_string(), "Multiple sample sites named 'x'");
    assert_eq!(stack_depth(), 0);

    let panicked = std::panic::catch_unwind(|| {
        TraceMessenger::record(|| -> Result<(), PyroError> { panic!("model bug") })
    });
    assert!(panicked.is_err());
    assert_eq!(stack_depth(), 0);
    // The thread is still usable.
    assert!(
        trace(|()| sample("z", Normal::new(0.0, 1.0)))
            .get_trace(())
            .is_ok()
    );
}

#[test]
fn invalid_parameters_name_the_site() {
    let model = |scale: f64| sample("weight", Normal::new(0.0, scale));
    let err = trace(model).get_trace(-2.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "at sample site 'weight': Normal: invalid parameter scale = -2 (must be finite and > 0)"
    );
    assert_eq!(stack_depth(), 0);
}

#[test]
fn a_sample_named_like_a_param_is_an_error() {
    let name = "runtime_test_clash";
    let model = move |()| -> Result<Real, PyroError> {
        param(name, 1.0, Constraint::Real)?;
        sample(name, Normal::new(0.0, 1.0))
    };
    let err = trace(model).get_trace(()).unwrap_err();
    assert!(err.to_string().contains(name), "{err}");
}

#[test]
fn params_may_repeat_and_the_first_init_wins() {
    let name = "runtime_test_first_init";
    with_param_store(|s| s.remove(name));
    let model = move |()| -> Result<(f64, f64), PyroError> {
        let a: f64 = param(name, 2.0, Constraint::Positive)?;
        let b: f64 = param(name, 7.0, Constraint::Real)?;
        Ok((a, b))
    };
    let tr = trace(model).get_trace(()).unwrap();
    assert_eq!(tr.output::<(f64, f64)>(), Some(&(2.0, 2.0)));
    assert_eq!(tr.len(), 1);
    assert_eq!(
        with_param_store(|s| s.constraint(name)),
        Some(Constraint::Positive)
    );
    let err = param("runtime_test_bad_init", -1.0, Constraint::Positive).unwrap_err();
    assert!(err.to_string().contains("runtime_test_bad_init"), "{err}");
}

#[test]
fn a_value_of_the_wrong_type_is_an_error_naming_the_site() {
    struct Bad;
    impl Messenger for Bad {
        fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
            msg.value = Some(Value::Bool(true));
            msg.done = true;
            Ok(())
        }
    }
    let err = Bad.run(|| sample("x", Normal::new(0.0, 1.0))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "site 'x': the value is a bool, but its distribution produces a real"
    );
}

#[test]
fn factor_and_deterministic_are_observed_sites() {
    let model = |()| -> Result<f64, PyroError> {
        factor("f", -1.5)?;
        deterministic("d", 3.0)
    };
    let tr = trace(model).get_trace(()).unwrap();
    let f = tr.get("f").unwrap();
    let d = tr.get("d").unwrap();
    assert!(f.is_observed && d.is_observed);
    assert_eq!(
        f.dist.as_ref().unwrap().log_prob(f.value.as_ref().unwrap()),
        -1.5
    );
    assert_eq!(
        d.dist.as_ref().unwrap().log_prob(d.value.as_ref().unwrap()),
        0.0
    );
    assert_eq!(tr.output::<f64>(), Some(&3.0));
}

#[test]
fn a_handler_does_not_see_the_messages_it_sends() {
    // A handler that re-sends a copy of every message from inside its own `process` (what
    // `intervene` does) must not recurse forever.
    struct Echo {
        seen: usize,
    }
    impl Messenger for Echo {
        fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
            self.seen += 1;
            let mut copy = msg.clone();
            copy.name = msg.name.with_suffix("_copy");
            apply_stack(&mut copy, None)
        }
    }
    let ((echo, out), tr) = TraceMessenger::record(|| {
        let (echo, out) = with_handler(Echo { seen: 0 }, || sample("x", Normal::new(0.0, 1.0)));
        Ok((echo, out))
    })
    .unwrap();
    out.unwrap();
    assert_eq!(echo.seen, 1);
    assert!(tr.contains("x") && tr.contains("x_copy"));
}

#[test]
fn plates_scale_and_stack_frames() {
    // 8/2 inside 6/3: scale 4 * 2 = 8.
    let model = |()| -> Result<(), PyroError> {
        Plate::new("outer", 6).subsample_size(3).run(|_| {
            Plate::new("inner", 8).subsample_size(2).run(|_| {
                // One element per (outer, inner) index: 3 * 2.
                sample("x", Batched::iid(Normal::new(0.0, 1.0)?, 6)?)?;
                Ok(())
            })
        })
    };
    let tr = trace(model).get_trace(()).unwrap();
    let x = tr.get("x").unwrap();
    assert_eq!(x.scale, 8.0);
    let names: Vec<String> = x
        .cond_indep_stack
        .iter()
        .map(|f| f.name.to_string())
        .collect();
    assert_eq!(names, ["outer", "inner"]);
    assert_eq!(
        (x.cond_indep_stack[0].size, x.cond_indep_stack[0].full_size),
        (3, 6)
    );
    // The index sites are recorded, outside their own plate, marked as subsample sites.
    let outer = tr.get("outer").unwrap();
    assert!(outer.infer.flag("_subsample") && outer.cond_indep_stack.is_empty());
    assert_eq!(tr.get("inner").unwrap().scale, 2.0);
    // outer(10, 4) alone gives 2.5.
    let one = |()| {
        Plate::new("p", 10)
            .subsample_size(4)
            .run(|_| sample("y", Batched::iid(Normal::new(0.0, 1.0)?, 4)?))
    };
    assert_eq!(
        trace(one).get_trace(()).unwrap().get("y").unwrap().scale,
        2.5
    );
}

#[test]
fn sequential_plates_count_iterations() {
    let model = |()| -> Result<(), PyroError> {
        Plate::new("seq", 3).for_each(|i| {
            sample(
                pyro_poutine::Name::indexed("z", i as u64),
                Normal::new(0.0, 1.0),
            )?;
            Ok(())
        })
    };
    let tr = trace(model).get_trace(()).unwrap();
    for i in 0..3 {
        let site = tr.get(pyro_poutine::Name::indexed("z", i)).unwrap();
        assert_eq!(site.cond_indep_stack[0].counter, Some(i as usize));
        assert_eq!(site.scale, 1.0);
    }
    // Without subsampling, the index site holds every index, in order.
    assert_eq!(
        tr.get("seq").unwrap().value,
        Some(Value::Ints(vec![0, 1, 2]))
    );
}

#[test]
fn subsamples_are_distinct_in_range_and_replayable() {
    set_rng_seed(5);
    let model = |()| {
        Plate::new("data", 10)
            .subsample_size(4)
            .run(|idx| Ok(idx.iter().collect::<Vec<_>>()))
    };
    let tr = trace(model).get_trace(()).unwrap();
    let mut idx = tr.output::<Vec<usize>>().unwrap().clone();
    assert_eq!(
        tr.get("data").unwrap().value,
        Some(Value::Ints(idx.iter().map(|&i| i as i64).collect()))
    );
    idx.sort_unstable();
    idx.dedup();
    assert_eq!(idx.len(), 4);
    assert!(idx.iter().all(|&i| i < 10));
    // Explicit indices are used as given.
    let given = |()| {
        Plate::new("data", 10)
            .subsample(vec![7, 1])
            .run(|idx| Ok(idx.iter().collect::<Vec<_>>()))
    };
    assert_eq!(
        trace(given).get_trace(()).unwrap().output::<Vec<usize>>(),
        Some(&vec![7, 1])
    );
}

#[test]
fn plate_errors_name_the_plate() {
    let zero = Plate::new("empty", 0).run(|_| Ok(()));
    assert_eq!(
        zero.unwrap_err().to_string(),
        "plate 'empty': size must be at least 1"
    );
    let big = Plate::new("p", 3).subsample_size(5).run(|_| Ok(()));
    assert_eq!(
        big.unwrap_err().to_string(),
        "plate 'p': subsample_size 5 must be in 1..=3"
    );
    let out = Plate::new("p", 3).subsample(vec![0, 3]).run(|_| Ok(()));
    assert_eq!(
        out.unwrap_err().to_string(),
        "plate 'p': subsample index 3 is outside 0..3"
    );
    // A negative index can only come from a handler; it is out of range too.
    let negative = ConditionMessenger::new([("p", Value::Ints(vec![0, -1]))])
        .run(|| Plate::new("p", 3).run(|_| Ok(())));
    assert_eq!(
        negative.unwrap_err().to_string(),
        "plate 'p': subsample index -1 is outside 0..3"
    );
    let mismatch = Plate::new("p", 5)
        .subsample_size(2)
        .subsample(vec![1])
        .run(|_| Ok(()));
    assert!(mismatch.unwrap_err().to_string().contains("does not match"));
    assert_eq!(stack_depth(), 0);
}

#[test]
fn vectorised_sites_must_match_the_plate() {
    let model = |n: usize| {
        Plate::new("data", 4).run(|_| {
            sample("y", Batched::iid(Normal::new(0.0, 1.0)?, n))?;
            Ok(())
        })
    };
    assert!(trace(model).get_trace(4).is_ok());
    let err = trace(model).get_trace(3).unwrap_err();
    assert_eq!(
        err.to_string(),
        "site 'y' in plate 'data' has batch length 3, expected 4"
    );
    assert_eq!(stack_depth(), 0);
}

#[test]
fn a_full_plate_adopts_a_replayed_minibatch() {
    // Pyro's behaviour: the guide subsamples, the model's plate (without subsample_size) replays
    // the guide's indices and scales by 10 / 3.
    let guide = |()| Plate::new("data", 10).subsample_size(3).run(|_| Ok(()));
    let model = |()| {
        Plate::new("data", 10).run(|idx| {
            sample("x", Batched::iid(Normal::new(0.0, 1.0)?, idx.len()))?;
            Ok(idx.len())
        })
    };
    let guide_trace = trace(guide).get_trace(()).unwrap();
    let tr = trace(pyro_poutine::replay(model, guide_trace.clone()))
        .get_trace(())
        .unwrap();
    assert_eq!(tr.output::<usize>(), Some(&3));
    assert_eq!(tr.get("x").unwrap().scale, 10.0 / 3.0);
    assert_eq!(
        tr.get("data").unwrap().value,
        guide_trace.get("data").unwrap().value
    );
    assert_eq!(tr.get("data").unwrap().log_prob_sum().unwrap(), 0.0);
    // A model that asks for another minibatch size refuses the replayed one.
    let other = |()| Plate::new("data", 10).subsample_size(4).run(|_| Ok(()));
    let err = trace(pyro_poutine::replay(other, guide_trace))
        .get_trace(())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("do the model and the guide use different subsample sizes")
    );
}

/// A handler that stops every message, draws with its own generator and records the messages
/// its `postprocess` sees; with `offer`, it also takes sites directly, recording their messages.
struct Record {
    rng: PyroRng,
    seen: Vec<String>,
    direct: usize,
    offer: bool,
}

impl Record {
    fn new(offer: bool) -> Self {
        Record {
            rng: PyroRng::seed_from_u64(11),
            seen: Vec::new(),
            direct: 0,
            offer,
        }
    }
}

impl Messenger for Record {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        msg.stop = true;
        Ok(())
    }
    fn postprocess(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        self.seen.push(format!("{msg:?}"));
        Ok(())
    }
    fn rng(&mut self) -> Option<&mut PyroRng> {
        Some(&mut self.rng)
    }
    fn direct(&mut self) -> Option<&mut dyn DirectSink> {
        if self.offer { Some(self) } else { None }
    }
}

impl DirectSink for Record {
    fn rng(&mut self) -> &mut PyroRng {
        &mut self.rng
    }
    fn record(&mut self, site: &dyn DirectSite) -> Result<(), PyroError> {
        self.direct += 1;
        let msg = site.message();
        assert_eq!(site.scale() * site.log_prob(), msg.log_prob_sum().unwrap());
        self.postprocess(&mut msg.clone())
    }
}

#[test]
fn the_innermost_handler_takes_sites_directly_as_it_would_take_their_messages() {
    let model = || -> Result<(), PyroError> {
        let x = sample("x", Normal::new(0.0, 1.0))?;
        observe("y", Normal::new(x, 1.0), 0.3)?;
        let b: bool = sample("b", Bernoulli::new(0.4))?;
        param("p", 1.5, Constraint::Real)?;
        factor("f", if b { -1.0 } else { 0.0 })?;
        Plate::new("full", 3).run(|idx| {
            observe(
                "z",
                Batched::iid(Normal::new(x, 1.0)?, idx.len()),
                vec![0.1, 0.2, 0.3],
            )
        })?;
        Plate::new("mini", 10).subsample_size(4).run(|_| Ok(()))?;
        Plate::new("given", 10)
            .subsample(vec![2, 5])
            .run(|_| Ok(()))?;
        Plate::new("outer", 2).run(|_| {
            Plate::new("inner", 6).subsample_size(3).run(|_| {
                sample("w", Batched::iid(Normal::new(0.0, 1.0)?, 6)?)?;
                Plate::new("steps", 2).for_each(|i| {
                    // One element per index of the vectorised plates around: 2 * 3.
                    observe(
                        pyro_poutine::Name::indexed("s", i as u64),
                        Batched::iid(Normal::new(x, 1.0)?, 6)?,
                        vec![0.5; 6],
                    )?;
                    Ok(())
                })
            })
        })?;
        Ok(())
    };
    let events = Rc::new(RefCell::new(Vec::new()));
    let run = |offer: bool, inner: bool| {
        let outer = log("outer", &events, false);
        let (record, result) = outer
            .run(|| {
                Ok::<_, PyroError>(with_handler(Record::new(offer), || {
                    if inner {
                        log("inner", &events, false).run(model)
                    } else {
                        model()
                    }
                }))
            })
            .unwrap();
        result.unwrap();
        record
    };
    let direct = run(true, false);
    let messages = run(false, false);
    let forced = run(true, true);
    // The sample sites, inside plates or not, and the plates' index sites went to the sink;
    // param and factor sites went as messages.
    assert_eq!((direct.direct, messages.direct, forced.direct), (13, 0, 0));
    assert_eq!(direct.seen, messages.seen);
    assert_eq!(direct.seen, forced.seen);
    assert_eq!(direct.seen.len(), 15);
    // A site inside plates carries their frames (outermost first) and scales.
    let w = direct
        .seen
        .iter()
        .find(|s| s.contains("name: \"w\""))
        .unwrap();
    assert!(w.contains("scale: 2.0"), "{w}");
    let (outer, inner) = (w.find("\"outer\"").unwrap(), w.find("\"inner\"").unwrap());
    assert!(outer < inner, "{w}");
    // The outer handler saw none of the sites, whichever way they went.
    assert!(events.borrow().iter().all(|e| !e.starts_with("outer")));
    with_param_store(|s| s.remove("p"));
}

#[test]
fn a_batch_that_does_not_fit_its_plates_fails_alike_taken_directly_or_not() {
    let model = || -> Result<(), PyroError> {
        Plate::new("outer", 2).run(|_| {
            Plate::new("inner", 3).run(|_| {
                sample("w", Batched::iid(Normal::new(0.0, 1.0)?, 5)?)?;
                Ok(())
            })
        })
    };
    let direct = with_handler(Record::new(true), model);
    let messages = with_handler(Record::new(false), model);
    assert_eq!(direct.0.direct, 3);
    let (a, b) = (direct.1.unwrap_err(), messages.1.unwrap_err());
    assert_eq!(a.to_string(), b.to_string());
    assert!(a.to_string().contains("'outer'"), "{a}");
    assert_eq!(direct.0.seen, messages.0.seen);
}

/// Issue 11, item 1: Pyro's vectorised plate broadcasts an unbatched distribution to the
/// plate's size; a site that stayed one draw would silently change the model, so it is an error
/// naming the site and the plate, taken directly or as a message. A nested plate's index site
/// and a `deterministic` site score nothing and are exempt; a sequential plate needs no batch.
#[test]
fn an_unbatched_site_in_a_vectorised_plate_is_an_error() {
    let expected = "site 'x' in vectorised plate 'data' is not batched; expected a batch of 3: \
                    give it one element per index (Batched::iid(dist, 3), or a batched \
                    constructor such as Normal::batch), or move it out of the plate (Pyro would \
                    draw it 3 times)";
    let latent = || Plate::new("data", 3).run(|_| sample("x", Normal::new(0.0, 1.0)));
    let observed = || Plate::new("data", 3).run(|_| observe("x", Normal::new(0.0, 1.0), 0.5));
    let factored = || Plate::new("data", 3).run(|_| factor("x", -1.0));
    for (what, err) in [
        (
            "sample, message",
            trace(|()| latent()).get_trace(()).unwrap_err(),
        ),
        (
            "observe, message",
            trace(|()| observed()).get_trace(()).unwrap_err(),
        ),
        (
            "factor, message",
            trace(|()| factored()).get_trace(()).unwrap_err(),
        ),
        (
            "sample, direct",
            with_handler(Record::new(true), latent).1.unwrap_err(),
        ),
        (
            "observe, direct",
            with_handler(Record::new(true), observed).1.unwrap_err(),
        ),
    ] {
        assert_eq!(err.to_string(), expected, "{what}");
        assert!(
            matches!(
                err,
                PyroError::BatchLength {
                    found: None,
                    expected: 3,
                    ..
                }
            ),
            "{what}"
        );
    }
    assert_eq!(stack_depth(), 0);
    // Exempt: a nested plate's index site, a deterministic site; a sequential plate.
    let fine = |()| -> Result<(), PyroError> {
        Plate::new("outer", 2).run(|_| {
            Plate::new("inner", 4).subsample_size(2).run(|_| {
                deterministic("d", 1.0)?;
                sample("w", Batched::iid(Normal::new(0.0, 1.0)?, 4)?)
            })
        })?;
        Plate::new("seq", 2).for_each(|i| {
            sample(
                pyro_poutine::Name::indexed("z", i as u64),
                Normal::new(0.0, 1.0),
            )?;
            Ok(())
        })
    };
    let tr = trace(fine).get_trace(()).unwrap();
    assert!(tr.get("inner").unwrap().is_subsample());
    assert!(tr.get("d").unwrap().is_deterministic());
    assert!(with_handler(Record::new(true), || fine(())).1.is_ok());
}
