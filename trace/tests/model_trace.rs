//! A trace shaped like one run of a plated model, through scoring, the graph, the table and JSON.

use pyro_trace::distributions::{Batched, Bernoulli, Distribution, Normal, Real, Value};
use pyro_trace::{
    Frame, GraphType, InferValue, Mask, Name, SUBSAMPLE_FLAG, Site, Trace, TraceError,
};

fn frame(name: &'static str, size: usize, full_size: usize, counter: Option<usize>) -> Frame {
    Frame {
        name: Name::from(name),
        size,
        full_size,
        counter,
    }
}

fn prior() -> Normal {
    Normal::new(0.0, 1.0).unwrap()
}

fn likelihood(mu: f64) -> Normal {
    Normal::new(mu, 0.5).unwrap()
}

/// `w` (param), `mu` (latent), plate index `batch` (subsample of 2 out of 6, scale 3), a
/// vectorised observation `y` in that plate with its last element masked out, and a sequential
/// plate `steps` of two iterations, each with a coin flip.
fn model_trace() -> Trace {
    let mut trace = Trace::new();
    trace
        .add_node(Site::param(Name::from("w"), Some(Value::Real(0.3))))
        .unwrap();

    let mut mu = Site::sample(Name::from("mu"), prior().into());
    mu.value = Some(Value::Real(0.2));
    trace.add_node(mu).unwrap();

    let mut batch = Site::sample(
        Name::from("batch"),
        Bernoulli::new(1.0).unwrap().into(), // stands in for the index distribution
    );
    batch.value = Some(Value::Bool(true));
    batch.infer.insert(SUBSAMPLE_FLAG, InferValue::Bool(true));
    trace.add_node(batch).unwrap();

    let mut y = Site::observed(
        Name::from("y"),
        Batched::iid(likelihood(0.2), 2).unwrap().into(),
        Value::Reals(vec![0.1, f64::NAN]),
    );
    y.scale = 3.0;
    y.mask = Some(Mask::Elements(vec![true, false].into()));
    y.cond_indep_stack.push(frame("batch", 2, 6, None));
    trace.add_node(y).unwrap();

    for i in 0..2 {
        let mut coin = Site::observed(
            Name::indexed("coin", i as u64),
            Bernoulli::new(0.25).unwrap().into(),
            Value::Bool(i == 0),
        );
        coin.cond_indep_stack.push(frame("steps", 1, 2, Some(i)));
        trace.add_node(coin).unwrap();
    }
    trace
}

fn expected_log_prob() -> f64 {
    let mu = prior().log_prob(&Real::from(0.2));
    let y = 3.0 * likelihood(0.2).log_prob(&Real::from(0.1));
    let coins = 0.25_f64.ln() + 0.75_f64.ln();
    mu + 0.0 + y + coins
}

#[test]
fn scores_latents_and_observations() {
    let trace = model_trace();
    let total = trace.log_prob_sum(|_| true).unwrap();
    assert!((total - expected_log_prob()).abs() < 1e-12);
    let latent = trace.log_prob_sum(|s| !s.is_observed).unwrap();
    assert_eq!(latent, prior().log_prob(&Real::from(0.2)));
    let y = trace.log_prob_sum(|s| s.name == "y").unwrap();
    assert_eq!(y, 3.0 * likelihood(0.2).log_prob(&Real::from(0.1)));
}

#[test]
fn nodes_and_dense_graph() {
    let trace = model_trace();
    let names = |it: &mut dyn Iterator<Item = &Name>| it.map(Name::to_string).collect::<Vec<_>>();
    assert_eq!(names(&mut trace.stochastic_nodes()), ["mu"]);
    assert_eq!(
        names(&mut trace.observation_nodes()),
        ["y", "coin_0", "coin_1"]
    );
    assert_eq!(names(&mut trace.param_nodes()), ["w"]);

    let graph = trace.dependency_graph(GraphType::Dense);
    let edges: Vec<String> = graph.edges().map(|(a, b)| format!("{a}->{b}")).collect();
    assert_eq!(
        edges,
        [
            "mu->y",
            "mu->coin_0",
            "y->coin_0",
            "mu->coin_1",
            "y->coin_1"
        ]
    );
    assert_eq!(
        names(&mut graph.topological_order().into_iter()),
        ["w", "mu", "batch", "y", "coin_0", "coin_1"]
    );
}

#[test]
fn table_lists_every_site() {
    let mut trace = model_trace();
    let table = trace.format_table();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["name", "kind", "dist", "batch", "value", "log_prob"]
    );
    let cells = |line: &str| {
        line.split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        cells(lines[1]),
        ["w", "param", "-", "-", "real", "0.3000", "-"]
    );
    assert_eq!(
        cells(lines[2]),
        ["mu", "sample", "Normal", "-", "real", "0.2000", "-0.9389"]
    );
    assert_eq!(
        cells(lines[4]),
        [
            "y", "observe", "Batched", "2", "real[2]", "[0.1000,", "NaN]", "-0.7374"
        ]
    );
    assert_eq!(
        cells(lines[6]),
        [
            "coin_1",
            "observe",
            "Bernoulli",
            "-",
            "bool",
            "false",
            "-0.2877"
        ]
    );
    // Columns are aligned: every log_prob ends in the same column.
    let width = lines[0].len();
    assert!(lines.iter().all(|l| l.chars().count() == width), "{table}");
    // A cache does not change the table; Display is the same text.
    trace.compute_log_prob(|_| true).unwrap();
    assert_eq!(trace.format_table(), table);
    assert_eq!(format!("{trace}"), table);
}

#[test]
fn json_round_trip_keeps_scores_graph_and_table() {
    let trace = model_trace();
    let back = Trace::from_json(&trace.to_json()).unwrap();
    assert_eq!(
        back.log_prob_sum(|_| true).unwrap().to_bits(),
        trace.log_prob_sum(|_| true).unwrap().to_bits()
    );
    assert_eq!(
        back.stochastic_nodes().collect::<Vec<_>>(),
        trace.stochastic_nodes().collect::<Vec<_>>()
    );
    let edges = |t: &Trace| {
        t.dependency_graph(GraphType::Dense)
            .edges()
            .map(|(a, b)| format!("{a}->{b}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(edges(&back), edges(&trace));
    // Only the batch column differs: the restored sites have no distribution to ask.
    let without_batch = |t: &Trace| {
        t.format_table()
            .lines()
            .map(|l| {
                let mut cells: Vec<&str> = l.split_whitespace().collect();
                cells.remove(3);
                cells.join(" ")
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(without_batch(&back), without_batch(&trace));
}

#[test]
fn mutation_through_get_mut_is_rescored() {
    let mut trace = model_trace();
    trace.compute_log_prob(|_| true).unwrap();
    let before = trace.log_prob_sum(|_| true).unwrap();
    let y = trace.get_mut("y").unwrap();
    y.mask = None; // now the NaN element counts: -inf density
    assert_eq!(trace.log_prob_sum(|_| true).unwrap(), f64::NEG_INFINITY);
    trace.get_mut("y").unwrap().mask = Some(Mask::Elements(vec![true].into()));
    let err = trace.log_prob_sum(|_| true).unwrap_err();
    assert_eq!(
        err,
        TraceError::LogProb {
            name: Name::from("y"),
            reason: "the mask has 1 elements but the batch has 2".into()
        }
    );
    trace.get_mut("y").unwrap().mask = Some(Mask::Elements(vec![true, false].into()));
    assert_eq!(trace.log_prob_sum(|_| true).unwrap(), before);
}
