//! Issue 11 (Pyro fidelity and ergonomics) as seen from inference: batch checks on the
//! weigher's fast path, models with their own errors.

use pyro_infer::Importance;
use pyro_infer::poutine::distributions::{Normal, Real};
use pyro_infer::poutine::{EscapeMessenger, Handler, Name, Plate, PyroError, observe, sample};

/// Item 1 on importance sampling's streaming path (the weigher takes plate sites itself).
#[test]
fn an_unbatched_site_in_a_vectorised_plate_fails_streaming_too() {
    let model = |()| -> Result<(), PyroError> {
        let mu = sample("mu", Normal::new(0.0, 1.0))?;
        Plate::new("data", 3).run(|_| observe("y", Normal::new(mu, 1.0), 0.5))?;
        Ok(())
    };
    let err = Importance::new(model, 8)
        .run_streaming((), &[Name::from("mu")])
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "particle 0: site 'y' in vectorised plate 'data' is not batched; expected a batch of 3"
        ),
        "{err}"
    );
    let stored = Importance::new(model, 8).run(()).unwrap_err();
    assert_eq!(stored.to_string(), err.to_string());
}

/// A model with its own error type, for item 17.
#[derive(Debug)]
struct Broken(usize);

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sensor {} is broken", self.0)
    }
}

impl std::error::Error for Broken {}

/// Item 17: `?` on any error in a model; inference reports the particle it happened in.
#[test]
fn models_return_their_own_errors_with_the_particle() {
    let model = |threshold: f64| -> Result<f64, Box<dyn std::error::Error + Send + Sync>> {
        let x = sample("x", Normal::new(0.0, 1.0))?;
        if x > threshold {
            return Err(Box::new(Broken(7)));
        }
        let parsed: f64 = "0.5".parse()?;
        observe("y", Normal::new(x, 1.0), parsed)?;
        Ok(x.value())
    };
    let err = Importance::new(model, 2000).seed(3).run(2.0).unwrap_err();
    let pyro_infer::InferError::Model { index, source } = &err else {
        panic!("{err}");
    };
    assert!(matches!(source, PyroError::Model(e) if e.downcast_ref::<Broken>().is_some()));
    assert_eq!(
        err.to_string(),
        format!("particle {index}: sensor 7 is broken")
    );
    // A PyroError passed through the box keeps its kind: an escape still escapes.
    let escaping = |()| -> Result<Real, Box<dyn std::error::Error + Send + Sync>> {
        Ok(EscapeMessenger::new(|s| s.name == "x").run(|| sample("x", Normal::new(0.0, 1.0)))?)
    };
    let err = pyro_infer::poutine::Model::call(&escaping, ()).unwrap_err();
    assert!(matches!(err, PyroError::Escape(_)), "{err}");
}

/// Pyro's introductory model without arguments.
fn no_args() -> Result<f64, PyroError> {
    let weight = sample("weight", Normal::new(8.5, 1.0))?;
    observe("measurement", Normal::new(weight, 0.75), 9.5)?;
    Ok(weight.value())
}

/// Item 15: a model of no arguments works with trace, handlers, Predictive and MCMC, run on
/// `()`.
#[test]
fn models_without_arguments() {
    use pyro_infer::poutine::{condition, trace};
    use pyro_infer::{Mcmc, Predictive, TraceMh};
    let tr = trace(no_args).get_trace(()).unwrap();
    assert!(tr.contains("weight") && tr.output::<f64>().is_some());
    let fixed = trace(condition(no_args, [("weight", 9.0)]))
        .get_trace(())
        .unwrap();
    assert_eq!(fixed.output::<f64>(), Some(&9.0));
    let prior = Predictive::prior(no_args, 10).run(()).unwrap();
    assert_eq!(prior.len(), 10);
    let run = Mcmc::new(TraceMh::new(no_args), 10, 20).run(()).unwrap();
    assert_eq!(run.get_samples().len(), 20);
    // A closure of no arguments too.
    let tr = trace(|| sample("x", Normal::new(0.0, 1.0)))
        .get_trace(())
        .unwrap();
    assert!(tr.contains("x"));
}

/// Items 14 and 20: site names as `&str`, `String` or `Name`, singly or in lists; a misspelled
/// site is reported as unknown, with the sites there are.
#[test]
fn sites_by_plain_names_and_misspelled_sites() {
    let stored = Importance::new(no_args, 2000).seed(1).run(()).unwrap();
    let by_str = stored.marginal("weight").unwrap();
    let by_name = stored.marginal([Name::from("weight")]).unwrap();
    assert_eq!(by_str.mean(), by_name.mean());
    let both = stored.marginal(vec!["weight".to_string(), "measurement".to_string()]);
    assert_eq!(both.unwrap().dim(), 2);
    let expected = "no site 'wieght' in this run; the sites are 'weight', 'measurement'";
    assert_eq!(stored.marginal("wieght").unwrap_err().to_string(), expected);
    // Kept sites only.
    let kept = Importance::new(no_args, 100)
        .keep_sites(["weight"])
        .run(())
        .unwrap();
    assert_eq!(kept.marginal("weight").unwrap().len(), 100);
    assert_eq!(
        kept.marginal("wieght").unwrap_err().to_string(),
        "no site 'wieght' in this run; the sites are 'weight'"
    );
    // Streaming.
    let streamed = Importance::new(no_args, 100)
        .run_streaming((), "weight")
        .unwrap();
    assert!(streamed.mean("weight").unwrap()[0].is_finite());
    assert_eq!(
        streamed.variance("wieght").unwrap_err().to_string(),
        "no site 'wieght' in this run; the sites are 'weight'"
    );
    // A trace by plain name.
    let tr = pyro_infer::poutine::trace(no_args).get_trace(()).unwrap();
    assert!(tr.get("weight").is_some() && tr.value::<f64>("measurement").unwrap() == 9.5);
}
