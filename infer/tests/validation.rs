//! The validation switch (issue 11, item 2): off, a value outside its distribution's support
//! scores `-inf`; on, it is an error naming the site, the distribution and the value, on every
//! path a site is scored by (a trace, importance sampling stored and streamed, MCMC).
//!
//! The switch is process-wide, so everything that turns it on is in this one test (this file is
//! a process of its own).

use pyro_infer::poutine::distributions::{
    Batched, Real, Uniform, Value, enable_validation, is_validation_enabled,
};
use pyro_infer::poutine::{
    Handler, MaskMessenger, Name, Plate, PyroError, condition, observe, sample, trace,
};
use pyro_infer::{Importance, Mcmc, TraceMh};

/// `y` observed outside Uniform(0, 1) when `y = 2`.
fn model(y: f64) -> Result<Real, PyroError> {
    let x = sample("x", Uniform::new(0.0, 1.0))?;
    observe("y", Uniform::new(0.0, 1.0), y)?;
    Ok(x)
}

/// A batch of three, element 1 outside the support; `masked` hides it.
fn batched(masked: bool) -> Result<(), PyroError> {
    Plate::new("data", 3).run(|_| {
        let observe_it = || {
            observe(
                "v",
                Batched::iid(Uniform::new(0.0, 1.0)?, 3)?,
                vec![0.5, 7.0, 0.25],
            )
        };
        if masked {
            MaskMessenger::new(vec![true, false, true]).run(observe_it)
        } else {
            observe_it()
        }
    })?;
    Ok(())
}

#[test]
fn validation_turns_values_outside_the_support_into_errors() {
    // Off (the default): exactly -inf, no error.
    assert!(!is_validation_enabled());
    let tr = trace(model).get_trace(2.0).unwrap();
    assert_eq!(tr.log_prob_sum(|_| true).unwrap(), f64::NEG_INFINITY);
    let posterior = Importance::new(model, 10).run(0.5).unwrap();
    assert!(posterior.log_normalizer().unwrap().is_finite());
    let off_streaming = Importance::new(model, 10)
        .run_streaming(2.0, &[Name::from("x")])
        .unwrap();
    assert!(off_streaming.log_normalizer().is_err());

    enable_validation(true);
    let expected = "site 'y': the value 2 is outside the support of Uniform (interval [0, 1])";
    // A trace.
    let err = trace(model)
        .get_trace(2.0)
        .unwrap()
        .log_prob_sum(|_| true)
        .unwrap_err();
    assert_eq!(err.to_string(), expected);
    // Importance sampling, stored (trace recorder) and streamed (the weigher's fast path).
    let err = Importance::new(model, 10).run(2.0).unwrap_err();
    assert_eq!(err.to_string(), format!("particle 0: {expected}"));
    let err = Importance::new(model, 10)
        .run_streaming(2.0, &[Name::from("x")])
        .unwrap_err();
    assert_eq!(err.to_string(), format!("particle 0: {expected}"));
    // MCMC.
    let err = Mcmc::new(TraceMh::new(model), 5, 5).run(2.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("chain 0, initialisation: {expected}")
    );
    // A conditioned value is checked alike.
    let conditioned = condition(model, [("x", Value::Real(-3.0))]);
    let err = trace(conditioned)
        .get_trace(0.5)
        .unwrap()
        .log_prob_sum(|_| true)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "site 'x': the value -3 is outside the support of Uniform (interval [0, 1])"
    );
    // A batch names the element; a masked element is not looked at.
    let err = trace(|()| batched(false))
        .get_trace(())
        .unwrap()
        .log_prob_sum(|_| true)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "site 'v': the value element 1 = 7 is outside the support of Batched (each element \
         interval [0, 1])"
    );
    let err = Importance::new(|()| batched(false), 4)
        .run_streaming((), Vec::<Name>::new())
        .unwrap_err();
    assert!(
        err.to_string().ends_with(
            "element 1 = 7 is outside the support of Batched (each element interval [0, 1])"
        ),
        "{err}"
    );
    let masked = trace(|()| batched(true)).get_trace(()).unwrap();
    assert!(masked.log_prob_sum(|_| true).unwrap().is_finite());
    // Values inside the support, and latent draws, are fine.
    assert!(Importance::new(model, 10).run(0.5).is_ok());

    enable_validation(false);
    assert_eq!(
        trace(model)
            .get_trace(2.0)
            .unwrap()
            .log_prob_sum(|_| true)
            .unwrap(),
        f64::NEG_INFINITY
    );
}
