//! Node lists and the dependency graph of a trace.

use crate::name::Name;
use crate::site::{Site, SiteType};
use crate::trace::Trace;
use indexmap::IndexSet;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

impl Trace {
    /// The names of the latent sample sites, in trace order, without plates' index sites
    /// ([`Site::is_subsample`]).
    ///
    /// This differs from Pyro on purpose. Pyro records a plate's indices as a latent sample site
    /// (a `_Subsample` distribution, `is_observed` false) and its `Trace.stochastic_nodes` lists
    /// it with the model's random variables; each algorithm that must not treat it as one (a
    /// guide, an MCMC kernel, an ELBO) filters it again with `site_is_subsample`. Here the
    /// indices are not counted as a random variable of the model (they score 0 and say which
    /// data a run looked at), so the list means what its users need: the latent variables.
    /// Iterate [`Trace::iter`] with [`Site::is_subsample`] to see the index sites.
    ///
    /// ```
    /// use pyro_trace::distributions::{Normal, Value};
    /// use pyro_trace::{Name, Site, Trace};
    ///
    /// let d = Normal::new(0.0, 1.0)?;
    /// let mut trace = Trace::new();
    /// trace.add_node(Site::param(Name::from("w"), Some(Value::Real(1.0))))?;
    /// trace.add_node(Site::sample(Name::from("z"), d.into()))?;
    /// trace.add_node(Site::observed(Name::from("y"), d.into(), Value::Real(0.3)))?;
    /// assert_eq!(trace.stochastic_nodes().collect::<Vec<_>>(), ["z"]);
    /// assert_eq!(trace.observation_nodes().collect::<Vec<_>>(), ["y"]);
    /// assert_eq!(trace.param_nodes().collect::<Vec<_>>(), ["w"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stochastic_nodes(&self) -> impl Iterator<Item = &Name> {
        self.names_where(|site| site.site_type() == SiteType::Sample && !site.is_subsample())
    }

    /// The names of the observed sample sites, in trace order.
    pub fn observation_nodes(&self) -> impl Iterator<Item = &Name> {
        self.names_where(|site| site.site_type() == SiteType::Observe)
    }

    /// The names of the param sites, in trace order.
    pub fn param_nodes(&self) -> impl Iterator<Item = &Name> {
        self.names_where(|site| site.site_type() == SiteType::Param)
    }

    fn names_where(&self, keep: impl Fn(&Site) -> bool) -> impl Iterator<Item = &Name> {
        self.nodes
            .iter()
            .filter(move |(_, site)| keep(site))
            .map(|(name, _)| name)
    }

    /// The dependency graph of the trace: every site is a node; [`GraphType::Flat`] has no edge,
    /// [`GraphType::Dense`] an edge from each earlier sample site to each later one, except
    /// between different iterations of the same sequential plate; plate index sites
    /// ([`Site::is_subsample`]) get no edge.
    ///
    /// ```
    /// use pyro_trace::distributions::Normal;
    /// use pyro_trace::{Frame, GraphType, Name, Site, Trace};
    ///
    /// let d = Normal::new(0.0, 1.0)?;
    /// let mut trace = Trace::new();
    /// trace.add_node(Site::sample(Name::from("z"), d.into()))?;
    /// for i in 0..2 {
    ///     // Iteration i of a sequential plate "data".
    ///     let frame = Frame { name: Name::from("data"), size: 1, full_size: 2, counter: Some(i) };
    ///     let mut x = Site::sample(Name::indexed("x", i as u64), d.into());
    ///     x.cond_indep_stack.push(frame);
    ///     trace.add_node(x)?;
    /// }
    /// assert_eq!(trace.dependency_graph(GraphType::Flat).edge_count(), 0);
    ///
    /// let graph = trace.dependency_graph(GraphType::Dense);
    /// let edges: Vec<_> = graph.edges().map(|(a, b)| format!("{a}->{b}")).collect();
    /// assert_eq!(edges, ["z->x_0", "z->x_1"]); // x_0 and x_1 are independent
    /// assert_eq!(graph.predecessors("x_1").collect::<Vec<_>>(), ["z"]);
    /// assert_eq!(graph.topological_order(), ["z", "x_0", "x_1"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dependency_graph(&self, graph_type: GraphType) -> DependencyGraph {
        let nodes: IndexSet<Name> = self.nodes.keys().cloned().collect();
        let mut graph = DependencyGraph {
            predecessors: vec![Vec::new(); nodes.len()],
            successors: vec![Vec::new(); nodes.len()],
            nodes,
            edges: Vec::new(),
        };
        if graph_type == GraphType::Dense {
            let sample_sites: Vec<(usize, &Site)> = self
                .nodes
                .values()
                .enumerate()
                .filter(|(_, site)| site.site_type() != SiteType::Param && !site.is_subsample())
                .collect();
            for (k, &(to, later)) in sample_sites.iter().enumerate() {
                for &(from, earlier) in &sample_sites[..k] {
                    if !independent(earlier, later) {
                        graph.add_edge(from, to);
                    }
                }
            }
        }
        graph
    }
}

/// Whether two sites sit in different iterations of the same sequential plate: their plate
/// stacks, compared frame by frame from the outermost, have a frame of the same plate with
/// different counters.
fn independent(a: &Site, b: &Site) -> bool {
    a.cond_indep_stack
        .iter()
        .zip(&b.cond_indep_stack)
        .any(|(f, g)| f.name == g.name && f.counter != g.counter)
}

/// Which edges [`Trace::dependency_graph`] builds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GraphType {
    /// No edges (Pyro's default).
    #[default]
    Flat,
    /// An edge from each earlier sample site to each later one, except across iterations of the
    /// same sequential plate.
    Dense,
}

/// The dependency graph of a trace ([`Trace::dependency_graph`]): its sites as nodes, in trace
/// order, and directed edges between them.
///
/// Edges always point from an earlier site to a later one, so the graph is acyclic.
#[derive(Clone, Debug, Default)]
pub struct DependencyGraph {
    nodes: IndexSet<Name>,
    edges: Vec<(usize, usize)>,
    predecessors: Vec<Vec<usize>>,
    successors: Vec<Vec<usize>>,
}

impl DependencyGraph {
    fn add_edge(&mut self, from: usize, to: usize) {
        self.edges.push((from, to));
        self.successors[from].push(to);
        self.predecessors[to].push(from);
    }

    fn index(&self, name: impl Into<Name>) -> Option<usize> {
        self.nodes.get_index_of(&name.into())
    }

    fn names<'a>(&'a self, indices: &'a [usize]) -> impl Iterator<Item = &'a Name> {
        indices.iter().map(|&i| &self.nodes[i])
    }

    /// The nodes (every site of the trace), in trace order.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = &Name> {
        self.nodes.iter()
    }

    /// The edges `(from, to)`, grouped by their target in trace order, then by source.
    pub fn edges(&self) -> impl ExactSizeIterator<Item = (&Name, &Name)> {
        self.edges
            .iter()
            .map(|&(a, b)| (&self.nodes[a], &self.nodes[b]))
    }

    /// The number of edges.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Whether there is an edge from `from` to `to`.
    pub fn contains_edge(&self, from: impl Into<Name>, to: impl Into<Name>) -> bool {
        match (self.index(from), self.index(to)) {
            (Some(a), Some(b)) => self.successors[a].contains(&b),
            _ => false,
        }
    }

    /// The sources of the edges into `name`, in trace order; empty for an unknown name.
    pub fn predecessors(&self, name: impl Into<Name>) -> impl Iterator<Item = &Name> {
        let list = self.index(name).map_or(&[][..], |i| &self.predecessors[i]);
        self.names(list)
    }

    /// The targets of the edges out of `name`, in trace order; empty for an unknown name.
    pub fn successors(&self, name: impl Into<Name>) -> impl Iterator<Item = &Name> {
        let list = self.index(name).map_or(&[][..], |i| &self.successors[i]);
        self.names(list)
    }

    /// Every node, each after all its predecessors (Kahn's algorithm); among the nodes ready at
    /// the same time, the earliest in trace order comes first, so the order is deterministic.
    pub fn topological_order(&self) -> Vec<&Name> {
        let mut in_degree: Vec<usize> = self.predecessors.iter().map(Vec::len).collect();
        let mut ready: BinaryHeap<Reverse<usize>> = in_degree
            .iter()
            .enumerate()
            .filter(|&(_, &d)| d == 0)
            .map(|(i, _)| Reverse(i))
            .collect();
        let mut order = Vec::with_capacity(self.nodes.len());
        while let Some(Reverse(i)) = ready.pop() {
            order.push(&self.nodes[i]);
            for &j in &self.successors[i] {
                in_degree[j] -= 1;
                if in_degree[j] == 0 {
                    ready.push(Reverse(j));
                }
            }
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::{Frame, InferValue, SUBSAMPLE_FLAG};
    use pyro_distributions::{Normal, Value};

    fn sample(name: &'static str, plates: &[(&'static str, Option<usize>)]) -> Site {
        let mut site = Site::sample(Name::from(name), Normal::new(0.0, 1.0).unwrap().into());
        site.value = Some(Value::Real(0.0));
        for &(plate, counter) in plates {
            site.cond_indep_stack.push(Frame {
                name: Name::from(plate),
                size: 1,
                full_size: 3,
                counter,
            });
        }
        site
    }

    fn observed(name: &'static str, plates: &[(&'static str, Option<usize>)]) -> Site {
        let mut site = sample(name, plates);
        site.is_observed = true;
        site
    }

    fn subsample(name: &'static str) -> Site {
        let mut site = sample(name, &[]);
        site.infer.insert(SUBSAMPLE_FLAG, InferValue::Bool(true));
        site
    }

    fn strings<'a>(names: impl IntoIterator<Item = &'a Name>) -> Vec<String> {
        names.into_iter().map(Name::to_string).collect()
    }

    /// A global latent, a subsample site, two iterations of a sequential plate `seq` each with a
    /// latent and an observation inside a vectorised plate `vec`, then a param and a final site.
    fn plated_trace() -> Trace {
        let mut trace = Trace::new();
        let sites = [
            sample("mu", &[]),
            subsample("seq"),
            sample("a_0", &[("seq", Some(0))]),
            observed("y_0", &[("seq", Some(0)), ("vec", None)]),
            sample("a_1", &[("seq", Some(1))]),
            observed("y_1", &[("seq", Some(1)), ("vec", None)]),
            Site::param(Name::from("w"), None),
            sample("last", &[("vec", None)]),
        ];
        for site in sites {
            trace.add_node(site).unwrap();
        }
        trace
    }

    #[test]
    fn node_lists_follow_trace_order() {
        let trace = plated_trace();
        assert_eq!(
            strings(trace.stochastic_nodes()),
            ["mu", "a_0", "a_1", "last"]
        );
        assert_eq!(strings(trace.observation_nodes()), ["y_0", "y_1"]);
        assert_eq!(strings(trace.param_nodes()), ["w"]);
        assert!(trace.get("seq").unwrap().is_subsample());
        assert!(!trace.get("mu").unwrap().is_subsample());
        // The flag marks only sample sites.
        let mut p = Site::param(Name::from("p"), None);
        p.infer.insert(SUBSAMPLE_FLAG, InferValue::Bool(true));
        assert!(!p.is_subsample());
    }

    #[test]
    fn flat_graph_has_no_edges() {
        let graph = plated_trace().dependency_graph(GraphType::Flat);
        assert_eq!(graph.nodes().len(), 8);
        assert_eq!(graph.edge_count(), 0);
        assert_eq!(graph.predecessors("y_1").count(), 0);
        assert_eq!(GraphType::default(), GraphType::Flat);
    }

    #[test]
    fn dense_graph_skips_sequential_iterations_and_subsamples() {
        let trace = plated_trace();
        let graph = trace.dependency_graph(GraphType::Dense);
        let edges: Vec<String> = graph.edges().map(|(a, b)| format!("{a}->{b}")).collect();
        assert_eq!(
            edges,
            [
                "mu->a_0",
                "mu->y_0",
                "a_0->y_0",
                "mu->a_1",
                "mu->y_1",
                "a_1->y_1",
                "mu->last",
                "a_0->last",
                "y_0->last",
                "a_1->last",
                "y_1->last",
            ]
        );
        assert_eq!(graph.edge_count(), edges.len());
        assert!(graph.contains_edge("a_0", "y_0"));
        assert!(!graph.contains_edge("a_0", "a_1"));
        assert!(!graph.contains_edge("y_0", "a_1"));
        assert!(!graph.contains_edge("y_0", "a_0"));
        assert!(!graph.contains_edge("mu", "nothing"));
        assert_eq!(strings(graph.predecessors("y_1")), ["mu", "a_1"]);
        assert_eq!(strings(graph.successors("a_0")), ["y_0", "last"]);
        assert_eq!(graph.predecessors("seq").count(), 0);
        assert_eq!(graph.successors("seq").count(), 0);
        assert_eq!(graph.successors("w").count(), 0);
        assert_eq!(graph.successors("nothing").count(), 0);
    }

    #[test]
    fn frames_compare_by_position() {
        // Same counters at the same depth: dependent; the same plate at different depths is
        // not compared.
        assert!(!independent(
            &sample("a", &[("p", Some(0)), ("q", Some(1))]),
            &sample("b", &[("p", Some(0)), ("q", Some(1))])
        ));
        assert!(independent(
            &sample("a", &[("p", Some(0)), ("q", Some(1))]),
            &sample("b", &[("p", Some(0)), ("q", Some(2))])
        ));
        assert!(!independent(
            &sample("a", &[("q", Some(1))]),
            &sample("b", &[("p", Some(0)), ("q", Some(2))])
        ));
        assert!(!independent(
            &sample("a", &[("v", None)]),
            &sample("b", &[("v", None)])
        ));
        assert!(!independent(
            &sample("a", &[]),
            &sample("b", &[("p", Some(0))])
        ));
    }

    #[test]
    fn topological_order_puts_predecessors_first() {
        let trace = plated_trace();
        let graph = trace.dependency_graph(GraphType::Dense);
        let order = graph.topological_order();
        assert_eq!(order.len(), trace.len());
        let position = |n: &Name| order.iter().position(|m| *m == n).unwrap();
        for (a, b) in graph.edges() {
            assert!(position(a) < position(b), "{a} before {b}");
        }
        // Ties broken by trace order.
        assert_eq!(
            strings(order),
            ["mu", "seq", "a_0", "y_0", "a_1", "y_1", "w", "last"]
        );
    }

    #[test]
    fn kahn_breaks_ties_by_trace_order() {
        // A hand-made graph whose topological order differs from the node order.
        let mut graph = DependencyGraph {
            nodes: ["c", "b", "a", "d"].into_iter().map(Name::from).collect(),
            edges: Vec::new(),
            predecessors: vec![Vec::new(); 4],
            successors: vec![Vec::new(); 4],
        };
        graph.add_edge(2, 0); // a -> c
        graph.add_edge(3, 1); // d -> b
        assert_eq!(strings(graph.topological_order()), ["a", "c", "d", "b"]);
    }

    #[test]
    fn empty_trace_has_an_empty_graph() {
        let graph = Trace::new().dependency_graph(GraphType::Dense);
        assert_eq!(graph.nodes().len(), 0);
        assert!(graph.topological_order().is_empty());
    }
}
