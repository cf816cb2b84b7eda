//! Seeing, doing and imagining in a small structural causal model with a confounder:
//! `severe ~ Bernoulli(0.5)` (how ill a patient is), `treated ~ Bernoulli(0.8 if severe else
//! 0.2)` (doctors treat the severely ill more often), `recovered ~ Bernoulli(p(treated,
//! severe))`, where the treatment adds 0.1 to the chance of recovery in both groups but severe
//! patients recover less often.
//!
//! Three queries, each estimated by importance sampling and printed beside its exact value:
//! - seeing, `condition(model, treated = t)`: P(recovered | treated = t). Observationally the
//!   treatment looks harmful (Simpson's paradox: the treated are mostly severe cases);
//! - doing, `intervene(model, treated = t)` (Pyro's `poutine.do`): P(recovered | do(treated =
//!   t)), the effect of giving or withholding the treatment: it helps;
//! - imagining, `intervene` and `condition` together: P(recovered had they been treated |
//!   they were not treated), the effect of the treatment on the untreated. `intervene` keeps a
//!   fresh copy of the intervened site under its own name; conditioning that copy on the
//!   factual treatment makes the evidence about `severe` flow as in the factual world, while
//!   the outcome is computed under the intervention (a single-world intervention graph, as in
//!   Pyro's `test_counterfactual_query`).
//!
//! Run: `cargo run --release -p pyro-examples --bin counterfactual` (`-- --fast` for the short
//! run CI makes).

use pyro_core::poutine::Model;
use pyro_core::prelude::*;
use std::error::Error;

/// P(severe).
const P_SEVERE: f64 = 0.5;

/// P(treated | severe).
fn p_treated(severe: bool) -> f64 {
    if severe { 0.8 } else { 0.2 }
}

/// P(recovered | treated, severe): the treatment adds 0.1 in both groups.
fn p_recovered(treated: bool, severe: bool) -> f64 {
    let base = if severe { 0.3 } else { 0.8 };
    if treated { base + 0.1 } else { base }
}

/// The structural causal model; returns whether the patient recovered.
fn clinic(_: ()) -> Result<bool, PyroError> {
    let severe = sample("severe", Bernoulli::new(P_SEVERE))?;
    let treated = sample("treated", Bernoulli::new(p_treated(severe)))?;
    sample("recovered", Bernoulli::new(p_recovered(treated, severe)))
}

/// The exact answers, by enumerating `severe`.
mod exact {
    use super::{P_SEVERE, p_recovered, p_treated};

    /// P(severe = s) for s in (false, true).
    fn prior(s: bool) -> f64 {
        if s { P_SEVERE } else { 1.0 - P_SEVERE }
    }

    /// P(severe = s | treated = t), by Bayes' rule.
    fn posterior(s: bool, t: bool) -> f64 {
        let joint = |s: bool| prior(s) * if t { p_treated(s) } else { 1.0 - p_treated(s) };
        joint(s) / (joint(false) + joint(true))
    }

    /// P(recovered) = sum_s P(s) sum_t P(t | s) P(recovered | t, s) = 0.5 (0.2 * 0.8 + 0.8 *
    /// 0.9) + 0.5 (0.8 * 0.3 + 0.2 * 0.4) = 0.60.
    pub fn overall() -> f64 {
        [false, true]
            .iter()
            .map(|&s| {
                let t = p_treated(s);
                prior(s) * (t * p_recovered(true, s) + (1.0 - t) * p_recovered(false, s))
            })
            .sum()
    }

    /// Seeing: P(recovered | treated = t) = sum_s P(s | t) P(recovered | t, s). With the
    /// numbers of the model: P(severe | treated) = 0.4 / 0.5 = 0.8, so 0.8 * 0.4 + 0.2 * 0.9 =
    /// 0.50 for the treated; P(severe | untreated) = 0.2, so 0.2 * 0.3 + 0.8 * 0.8 = 0.70.
    pub fn seeing(t: bool) -> f64 {
        [false, true]
            .iter()
            .map(|&s| posterior(s, t) * p_recovered(t, s))
            .sum()
    }

    /// Doing: P(recovered | do(treated = t)) = sum_s P(s) P(recovered | t, s) (the back-door
    /// adjustment): 0.5 * 0.4 + 0.5 * 0.9 = 0.65 treated, 0.5 * 0.3 + 0.5 * 0.8 = 0.55 not.
    pub fn doing(t: bool) -> f64 {
        [false, true]
            .iter()
            .map(|&s| prior(s) * p_recovered(t, s))
            .sum()
    }

    /// Imagining: P(recovered under do(treated = t) | treated = factual) = sum_s P(s |
    /// factual) P(recovered | t, s). For the untreated, had they been treated: 0.2 * 0.4 +
    /// 0.8 * 0.9 = 0.80 (against the 0.70 they did recover with); for the treated, had they
    /// not been: 0.8 * 0.3 + 0.2 * 0.8 = 0.40 (against 0.50).
    pub fn imagining(t: bool, factual: bool) -> f64 {
        [false, true]
            .iter()
            .map(|&s| posterior(s, factual) * p_recovered(t, s))
            .sum()
    }
}

/// P(recovered) under `model`, by importance sampling with the prior as proposal (conditioned
/// sites weigh each run; intervened ones do not).
fn p_recovered_under<M: Model<(), Output = bool> + Send + Sync + Clone + 'static>(
    model: M,
    particles: usize,
    seed: u64,
) -> Result<f64, Box<dyn Error>> {
    let posterior = Importance::new(model, particles)
        .seed(seed)
        .keep_sites("recovered")
        .run(())?;
    Ok(posterior.marginal("recovered")?.mean()[0])
}

fn main() -> Result<(), Box<dyn Error>> {
    let fast = std::env::args().any(|a| a == "--fast");
    let particles = if fast { 40_000 } else { 2_000_000 };
    // The thread's generator, which the traced run below draws from (inference runs have seeds
    // of their own).
    pyro_core::poutine::set_rng_seed(0);
    let treated = |t: bool| if t { "treated" } else { "untreated" };
    println!("a clinic: severe ~ Bernoulli(0.5); treated ~ Bernoulli(0.8 if severe else 0.2);");
    println!("recovered ~ Bernoulli(0.3 or 0.8 by severity, + 0.1 if treated)");
    println!(
        "each probability estimated by importance sampling with {particles} particles (exact \
         value in brackets)\n"
    );

    // One traced run under intervene: what the handler does to the trace.
    let tr = trace(intervene(clinic, [("treated", true)])).get_trace(())?;
    let severe: bool = tr.value("severe")?;
    let outcome = tr
        .output::<bool>()
        .ok_or("the trace keeps the model's return value")?;
    println!("a run under intervene(treated = true), traced:\n{tr}");
    println!(
        "the recorded 'treated' ({}) is a fresh draw that nothing used; 'recovered' ({outcome}) \
         was drawn with P(recovered | treated, severe = {severe}) = {:.1}, as if treated\n",
        tr.value::<bool>("treated")?,
        p_recovered(true, severe)
    );

    let overall = p_recovered_under(clinic, particles, 1)?;
    println!(
        "P(recovered), no handler: {overall:.4} ({:.4})",
        exact::overall()
    );
    println!("\nseeing: condition(clinic, treated = t), P(recovered | treated = t)");
    for (i, t) in [true, false].into_iter().enumerate() {
        let est = p_recovered_under(
            condition(clinic, [("treated", t)]),
            particles,
            10 + i as u64,
        )?;
        println!("  {:<10} {est:.4} ({:.4})", treated(t), exact::seeing(t));
    }
    println!("doing: intervene(clinic, treated = t), P(recovered | do(treated = t))");
    for (i, t) in [true, false].into_iter().enumerate() {
        let est = p_recovered_under(
            intervene(clinic, [("treated", t)]),
            particles,
            20 + i as u64,
        )?;
        println!("  {:<10} {est:.4} ({:.4})", treated(t), exact::doing(t));
    }
    println!(
        "imagining: condition(intervene(clinic, treated = t), treated = factual), P(recovered had \
         they been t | they were factual)"
    );
    for (i, t) in [true, false].into_iter().enumerate() {
        let factual = !t;
        let model = condition(intervene(clinic, [("treated", t)]), [("treated", factual)]);
        let est = p_recovered_under(model, particles, 30 + i as u64)?;
        println!(
            "  the {} had they been {}: {est:.4} ({:.4}); as they were: {:.4}",
            treated(factual),
            treated(t),
            exact::imagining(t, factual),
            exact::seeing(factual)
        );
    }
    println!(
        "\nseeing says the treatment lowers recovery ({:.2} vs {:.2}): the treated are mostly \
         severe cases. Doing says it raises it ({:.2} vs {:.2}), by 0.1 in every group.",
        exact::seeing(true),
        exact::seeing(false),
        exact::doing(true),
        exact::doing(false)
    );
    Ok(())
}
