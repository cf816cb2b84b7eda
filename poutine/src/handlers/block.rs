//! `block`: hide selected messages from every outer handler.

use crate::error::PyroError;
use crate::model::{Handled, Handler, IntoModel};
use crate::runtime::Messenger;
use pyro_trace::{Name, Site, SiteType};
use std::fmt;
use std::sync::Arc;

/// A predicate over messages, as `block`'s `hide_fn` / `expose_fn` take it.
pub type SiteFilter = Arc<dyn Fn(&Site) -> bool + Send + Sync>;

/// The `block` handler: sets `stop` on the messages it hides, so that no outer handler (trace,
/// condition, replay, plate, scale, ...) processes or postprocesses them. Inner handlers still
/// see them, and the primitive still returns a value.
///
/// What is hidden follows Pyro 1.9 exactly:
///
/// 1. with a `hide_fn`, the sites for which it returns `true`; with an `expose_fn`, the sites
///    for which it returns `false`; every other option is then ignored;
/// 2. otherwise a site is hidden when its name is in `hide`, or its type is in `hide_types`, or
///    it is neither named in `expose` nor of a type in `expose_types` while `hide_all` holds.
///    `hide_all` starts true (false with `expose_all`), then giving `hide` sets it to false,
///    `expose` to true, `hide_types` to false and `expose_types` to true, in that order, so the
///    last of these given decides. A list given empty still counts as given.
///
/// Types are [`SiteType`]s: `Observe` matches observed sample sites (including `factor` and
/// `deterministic`), `Sample` latent ones. [`BlockMessenger::new`] (and [`block`]) hides everything.
///
/// Errors ([`BlockBuilder::build`]): both a `hide_fn` and an `expose_fn`; both `hide_all` and
/// `expose_all`; one name in both `hide` and `expose`; one type in both `hide_types` and
/// `expose_types`. (Pyro's `block(expose_all=True)` fails its own check because `hide_all`
/// defaults to true; here `expose_all` alone simply exposes everything.)
///
/// ```
/// use pyro_poutine::{BlockMessenger, Handler, PyroError, SiteType, TraceMessenger, block, observe, sample, trace};
/// use pyro_poutine::distributions::{Normal, Real};
///
/// fn model(_: ()) -> Result<Real, PyroError> {
///     let a = sample("a", Normal::new(0.0, 1.0))?;
///     let b = sample("b", Normal::new(a, 1.0))?;
///     observe("y", Normal::new(b, 1.0), 0.5)
/// }
/// // Model form: everything hidden, or selected sites.
/// assert!(trace(block(model)).get_trace(())?.is_empty());
/// let tr = trace(BlockMessenger::hide(["a"]).wrap(model)).get_trace(())?;
/// assert!(!tr.contains("a") && tr.contains("b") && tr.contains("y"));
/// // Scope form, with a builder: hide observations, expose only latent sites.
/// let blocker = BlockMessenger::builder().hide_types([SiteType::Observe]).build()?;
/// let (_, tr) = TraceMessenger::record(|| blocker.run(|| model(())))?;
/// assert!(tr.contains("a") && tr.contains("b") && !tr.contains("y"));
/// # Ok::<(), PyroError>(())
/// ```
#[derive(Clone)]
pub struct BlockMessenger {
    rule: Rule,
}

#[derive(Clone)]
enum Rule {
    HideFn(SiteFilter),
    ExposeFn(SiteFilter),
    Lists {
        hide: NameSet,
        expose: NameSet,
        hide_types: TypeSet,
        expose_types: TypeSet,
        hide_all: bool,
    },
}

impl BlockMessenger {
    /// A block that hides every message.
    pub fn new() -> Self {
        BlockMessenger::lists(
            NameSet::empty(),
            NameSet::empty(),
            TypeSet(0),
            TypeSet(0),
            true,
        )
    }

    /// Hides the named sites and exposes all others.
    pub fn hide<N: Into<Name>>(names: impl IntoIterator<Item = N>) -> Self {
        BlockMessenger::lists(
            NameSet::new(names),
            NameSet::empty(),
            TypeSet(0),
            TypeSet(0),
            false,
        )
    }

    /// Exposes the named sites and hides all others.
    pub fn expose<N: Into<Name>>(names: impl IntoIterator<Item = N>) -> Self {
        BlockMessenger::lists(
            NameSet::empty(),
            NameSet::new(names),
            TypeSet(0),
            TypeSet(0),
            true,
        )
    }

    /// Hides the sites of these types and exposes all others.
    pub fn hide_types(types: impl IntoIterator<Item = SiteType>) -> Self {
        BlockMessenger::lists(
            NameSet::empty(),
            NameSet::empty(),
            TypeSet::new(types),
            TypeSet(0),
            false,
        )
    }

    /// Exposes the sites of these types and hides all others.
    pub fn expose_types(types: impl IntoIterator<Item = SiteType>) -> Self {
        BlockMessenger::lists(
            NameSet::empty(),
            NameSet::empty(),
            TypeSet(0),
            TypeSet::new(types),
            true,
        )
    }

    /// Hides nothing.
    pub fn expose_all() -> Self {
        BlockMessenger::lists(
            NameSet::empty(),
            NameSet::empty(),
            TypeSet(0),
            TypeSet(0),
            false,
        )
    }

    /// Hides the sites for which `f` returns `true`.
    pub fn hide_fn(f: impl Fn(&Site) -> bool + Send + Sync + 'static) -> Self {
        BlockMessenger {
            rule: Rule::HideFn(Arc::new(f)),
        }
    }

    /// Hides the sites for which `f` returns `false`.
    pub fn expose_fn(f: impl Fn(&Site) -> bool + Send + Sync + 'static) -> Self {
        BlockMessenger {
            rule: Rule::ExposeFn(Arc::new(f)),
        }
    }

    /// A builder combining several options, with Pyro's precedence.
    pub fn builder() -> BlockBuilder {
        BlockBuilder::default()
    }

    fn lists(
        hide: NameSet,
        expose: NameSet,
        hide_types: TypeSet,
        expose_types: TypeSet,
        hide_all: bool,
    ) -> Self {
        BlockMessenger {
            rule: Rule::Lists {
                hide,
                expose,
                hide_types,
                expose_types,
                hide_all,
            },
        }
    }

    /// Whether this block hides `msg`.
    pub fn hides(&self, msg: &Site) -> bool {
        match &self.rule {
            Rule::HideFn(f) => f(msg),
            Rule::ExposeFn(f) => !f(msg),
            Rule::Lists {
                hide,
                expose,
                hide_types,
                expose_types,
                hide_all,
            } => {
                let ty = msg.site_type();
                if hide.contains(&msg.name) || hide_types.contains(ty) {
                    return true;
                }
                *hide_all && !expose.contains(&msg.name) && !expose_types.contains(ty)
            }
        }
    }
}

impl Default for BlockMessenger {
    /// Hides everything, like [`BlockMessenger::new`].
    fn default() -> Self {
        BlockMessenger::new()
    }
}

impl fmt::Debug for BlockMessenger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            Rule::HideFn(_) => f.write_str("BlockMessenger { hide_fn }"),
            Rule::ExposeFn(_) => f.write_str("BlockMessenger { expose_fn }"),
            Rule::Lists {
                hide,
                expose,
                hide_types,
                expose_types,
                hide_all,
            } => f
                .debug_struct("BlockMessenger")
                .field("hide", &hide.0)
                .field("expose", &expose.0)
                .field("hide_types", &hide_types.types().collect::<Vec<_>>())
                .field("expose_types", &expose_types.types().collect::<Vec<_>>())
                .field("hide_all", hide_all)
                .finish(),
        }
    }
}

impl Messenger for BlockMessenger {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        if self.hides(msg) {
            msg.stop = true;
        }
        Ok(())
    }
}

/// Wraps `model` in a `block` that hides every message from the outer handlers. Use
/// [`BlockMessenger`]'s constructors and [`Handler::wrap`] for a selective block.
pub fn block<M: IntoModel<Mk>, Mk>(model: M) -> Handled<M::Model, BlockMessenger> {
    BlockMessenger::new().wrap(model)
}

/// Gathers `block`'s options (Pyro's keyword arguments); [`build`](BlockBuilder::build) checks
/// them and applies Pyro's precedence (see [`BlockMessenger`]). Lists given twice are concatenated.
///
/// ```
/// use pyro_poutine::{BlockMessenger, Name, Site, SiteType};
/// use pyro_poutine::distributions::Normal;
///
/// let latent = |name: &'static str| Site::sample(Name::from(name), Normal::new(0.0, 1.0).unwrap().into());
/// // `expose` makes everything else hidden ...
/// let b = BlockMessenger::builder().expose(["a"]).build()?;
/// assert!(!b.hides(&latent("a")) && b.hides(&latent("b")));
/// // ... unless a later option in Pyro's order (`hide_types`) turns `hide_all` off again.
/// let b = BlockMessenger::builder().expose(["a"]).hide_types([SiteType::Param]).build()?;
/// assert!(!b.hides(&latent("b")));
/// let err = BlockMessenger::builder().hide(["a"]).expose(["a"]).build().unwrap_err();
/// assert_eq!(err.to_string(), "block: cannot hide and expose site 'a'");
/// # Ok::<(), pyro_poutine::PyroError>(())
/// ```
#[derive(Clone, Default)]
pub struct BlockBuilder {
    hide_fn: Option<SiteFilter>,
    expose_fn: Option<SiteFilter>,
    hide_all: bool,
    expose_all: bool,
    hide: Option<Vec<Name>>,
    expose: Option<Vec<Name>>,
    hide_types: Option<Vec<SiteType>>,
    expose_types: Option<Vec<SiteType>>,
}

impl fmt::Debug for BlockBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockBuilder")
            .field("hide_fn", &self.hide_fn.is_some())
            .field("expose_fn", &self.expose_fn.is_some())
            .field("hide_all", &self.hide_all)
            .field("expose_all", &self.expose_all)
            .field("hide", &self.hide)
            .field("expose", &self.expose)
            .field("hide_types", &self.hide_types)
            .field("expose_types", &self.expose_types)
            .finish()
    }
}

impl BlockBuilder {
    /// Hide the sites for which `f` returns `true` (all list options are then ignored).
    pub fn hide_fn(mut self, f: impl Fn(&Site) -> bool + Send + Sync + 'static) -> Self {
        self.hide_fn = Some(Arc::new(f));
        self
    }

    /// Hide the sites for which `f` returns `false` (all list options are then ignored).
    pub fn expose_fn(mut self, f: impl Fn(&Site) -> bool + Send + Sync + 'static) -> Self {
        self.expose_fn = Some(Arc::new(f));
        self
    }

    /// Pyro's `hide_all=True` (the default when no list is given).
    pub fn hide_all(mut self) -> Self {
        self.hide_all = true;
        self
    }

    /// Pyro's `expose_all=True` with `hide_all=False`: hide only what the lists say.
    pub fn expose_all(mut self) -> Self {
        self.expose_all = true;
        self
    }

    /// Site names to hide.
    pub fn hide<N: Into<Name>>(mut self, names: impl IntoIterator<Item = N>) -> Self {
        let list = self.hide.get_or_insert_with(Vec::new);
        list.extend(names.into_iter().map(Into::into));
        self
    }

    /// Site names to expose (everything else is hidden unless a later option says otherwise).
    pub fn expose<N: Into<Name>>(mut self, names: impl IntoIterator<Item = N>) -> Self {
        let list = self.expose.get_or_insert_with(Vec::new);
        list.extend(names.into_iter().map(Into::into));
        self
    }

    /// Site types to hide.
    pub fn hide_types(mut self, types: impl IntoIterator<Item = SiteType>) -> Self {
        self.hide_types.get_or_insert_with(Vec::new).extend(types);
        self
    }

    /// Site types to expose (everything else is hidden unless a later option says otherwise).
    pub fn expose_types(mut self, types: impl IntoIterator<Item = SiteType>) -> Self {
        self.expose_types.get_or_insert_with(Vec::new).extend(types);
        self
    }

    /// Checks the options and builds the handler.
    pub fn build(self) -> Result<BlockMessenger, PyroError> {
        match (self.hide_fn, self.expose_fn) {
            (Some(_), Some(_)) => {
                return Err(PyroError::invalid(
                    "block",
                    "give only one of hide_fn and expose_fn",
                ));
            }
            (Some(f), None) => {
                return Ok(BlockMessenger {
                    rule: Rule::HideFn(f),
                });
            }
            (None, Some(f)) => {
                return Ok(BlockMessenger {
                    rule: Rule::ExposeFn(f),
                });
            }
            (None, None) => {}
        }
        if self.hide_all && self.expose_all {
            return Err(PyroError::invalid(
                "block",
                "cannot both hide_all and expose_all",
            ));
        }
        let mut hide_all = !self.expose_all;
        if self.hide.is_some() {
            hide_all = false;
        }
        if self.expose.is_some() {
            hide_all = true;
        }
        if self.hide_types.is_some() {
            hide_all = false;
        }
        if self.expose_types.is_some() {
            hide_all = true;
        }
        let hide = NameSet::new(self.hide.unwrap_or_default());
        let expose = NameSet::new(self.expose.unwrap_or_default());
        if let Some(name) = hide.0.iter().find(|n| expose.contains(n)) {
            return Err(PyroError::invalid(
                "block",
                format!("cannot hide and expose site '{name}'"),
            ));
        }
        let hide_types = TypeSet::new(self.hide_types.unwrap_or_default());
        let expose_types = TypeSet::new(self.expose_types.unwrap_or_default());
        if let Some(ty) = hide_types.types().find(|t| expose_types.contains(*t)) {
            return Err(PyroError::invalid(
                "block",
                format!("cannot hide and expose site type '{}'", type_name(ty)),
            ));
        }
        Ok(BlockMessenger::lists(
            hide,
            expose,
            hide_types,
            expose_types,
            hide_all,
        ))
    }
}

/// Pyro's spelling of a site type.
fn type_name(ty: SiteType) -> &'static str {
    match ty {
        SiteType::Sample => "sample",
        SiteType::Observe => "observe",
        SiteType::Param => "param",
    }
}

/// A set of site names, sorted for allocation-free binary search; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct NameSet(Arc<[Name]>);

impl NameSet {
    pub(crate) fn empty() -> Self {
        NameSet(Arc::from([]))
    }

    pub(crate) fn new<N: Into<Name>>(names: impl IntoIterator<Item = N>) -> Self {
        let mut names: Vec<Name> = names.into_iter().map(Into::into).collect();
        names.sort();
        names.dedup();
        NameSet(names.into())
    }

    pub(crate) fn contains(&self, name: &Name) -> bool {
        !self.0.is_empty() && self.0.binary_search(name).is_ok()
    }
}

/// A set of site types, as bits.
#[derive(Clone, Copy, Debug)]
struct TypeSet(u8);

const ALL_TYPES: [SiteType; 3] = [SiteType::Sample, SiteType::Observe, SiteType::Param];

impl TypeSet {
    fn new(types: impl IntoIterator<Item = SiteType>) -> Self {
        TypeSet(types.into_iter().fold(0, |bits, t| bits | TypeSet::bit(t)))
    }

    fn bit(ty: SiteType) -> u8 {
        match ty {
            SiteType::Sample => 1,
            SiteType::Observe => 2,
            SiteType::Param => 4,
        }
    }

    fn contains(self, ty: SiteType) -> bool {
        self.0 & TypeSet::bit(ty) != 0
    }

    fn types(self) -> impl Iterator<Item = SiteType> {
        ALL_TYPES.into_iter().filter(move |t| self.contains(*t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::Constraint;
    use crate::distributions::{Batched, Normal, Real, Value};
    use crate::handlers::trace::{TraceMessenger, trace};
    use crate::runtime::stack_depth;
    use crate::{Model, Plate, deterministic, factor, observe, param, sample};
    use pyro_trace::SiteKind;

    fn latent(name: &'static str) -> Site {
        Site::sample(Name::from(name), Normal::new(0.0, 1.0).unwrap().into())
    }

    fn observed(name: &'static str) -> Site {
        Site::observed(
            Name::from(name),
            Normal::new(0.0, 1.0).unwrap().into(),
            Value::Real(0.0),
        )
    }

    fn param_site(name: &'static str) -> Site {
        Site::param(Name::from(name), Some(Value::Real(1.0)))
    }

    /// Which of latent `a`, latent `b`, observed `y`, param `p` the block hides, as a string
    /// of the hidden names.
    fn hidden(b: &BlockMessenger) -> String {
        [latent("a"), latent("b"), observed("y"), param_site("p")]
            .iter()
            .filter(|s| b.hides(s))
            .map(|s| s.name.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn built(b: BlockBuilder) -> BlockMessenger {
        b.build().unwrap()
    }

    #[test]
    fn precedence_table() {
        use SiteType::*;
        let cases: Vec<(&str, BlockBuilder, &str)> = vec![
            ("default", BlockMessenger::builder(), "a,b,y,p"),
            ("hide_all", BlockMessenger::builder().hide_all(), "a,b,y,p"),
            ("expose_all", BlockMessenger::builder().expose_all(), ""),
            ("hide", BlockMessenger::builder().hide(["a"]), "a"),
            (
                "hide empty",
                BlockMessenger::builder().hide(Vec::<Name>::new()),
                "",
            ),
            ("expose", BlockMessenger::builder().expose(["a"]), "b,y,p"),
            (
                "expose empty",
                BlockMessenger::builder().expose(Vec::<Name>::new()),
                "a,b,y,p",
            ),
            (
                "hide_types observe",
                BlockMessenger::builder().hide_types([Observe]),
                "y",
            ),
            (
                "hide_types sample",
                BlockMessenger::builder().hide_types([Sample]),
                "a,b",
            ),
            (
                "hide_types param",
                BlockMessenger::builder().hide_types([Param]),
                "p",
            ),
            (
                "expose_types sample",
                BlockMessenger::builder().expose_types([Sample]),
                "y,p",
            ),
            (
                "expose_types observe param",
                BlockMessenger::builder().expose_types([Observe, Param]),
                "a,b",
            ),
            // hide sets hide_all false even when hide_all was asked for.
            (
                "hide_all + hide",
                BlockMessenger::builder().hide_all().hide(["a"]),
                "a",
            ),
            // expose after hide: hide_all true again; hide still wins for its names.
            (
                "hide + expose",
                BlockMessenger::builder().hide(["a"]).expose(["b"]),
                "a,y,p",
            ),
            // expose_all then expose: expose turns hide_all back on.
            (
                "expose_all + expose",
                BlockMessenger::builder().expose_all().expose(["a"]),
                "b,y,p",
            ),
            // hide_types comes after expose in Pyro's order: hide_all ends false.
            (
                "expose + hide_types",
                BlockMessenger::builder().expose(["a"]).hide_types([Param]),
                "p",
            ),
            // expose_types last: hide_all true.
            (
                "hide_types + expose_types",
                BlockMessenger::builder()
                    .hide_types([Observe])
                    .expose_types([Sample]),
                "y,p",
            ),
            (
                "hide + expose_types",
                BlockMessenger::builder().hide(["a"]).expose_types([Sample]),
                "a,y,p",
            ),
            // Expose by name rescues a site whose type is not exposed.
            (
                "expose + expose_types",
                BlockMessenger::builder()
                    .expose(["y"])
                    .expose_types([Sample]),
                "p",
            ),
            // hide_types wins over expose by name.
            (
                "expose name, hide its type",
                BlockMessenger::builder().expose(["a"]).hide_types([Sample]),
                "a,b",
            ),
            // hide by name wins over expose by type.
            (
                "hide name, expose its type",
                BlockMessenger::builder().hide(["a"]).expose_types([Sample]),
                "a,y,p",
            ),
            // Functions win over the lists.
            (
                "hide_fn + expose",
                BlockMessenger::builder()
                    .hide_fn(|s| s.name == "a")
                    .expose(["a", "b"]),
                "a",
            ),
            (
                "expose_fn + hide",
                BlockMessenger::builder()
                    .expose_fn(|s| s.kind == SiteKind::Sample)
                    .hide(["a"]),
                "p",
            ),
            (
                "hide_fn + hide_all/expose_all",
                BlockMessenger::builder()
                    .hide_fn(|_| false)
                    .hide_all()
                    .expose_all(),
                "",
            ),
            (
                "hide_fn + same name hidden and exposed",
                BlockMessenger::builder()
                    .hide_fn(|_| false)
                    .hide(["a"])
                    .expose(["a"]),
                "",
            ),
            (
                "lists concatenate",
                BlockMessenger::builder().hide(["a"]).hide(["y"]),
                "a,y",
            ),
        ];
        for (label, builder, expected) in cases {
            assert_eq!(hidden(&built(builder)), expected, "{label}");
        }
        // The shortcut constructors agree with the builder.
        assert_eq!(hidden(&BlockMessenger::new()), "a,b,y,p");
        assert_eq!(hidden(&BlockMessenger::default()), "a,b,y,p");
        assert_eq!(hidden(&BlockMessenger::expose_all()), "");
        assert_eq!(hidden(&BlockMessenger::hide(["a", "p"])), "a,p");
        assert_eq!(hidden(&BlockMessenger::expose(["a", "p"])), "b,y");
        assert_eq!(hidden(&BlockMessenger::hide_types([Observe])), "y");
        assert_eq!(hidden(&BlockMessenger::expose_types([Observe])), "a,b,p");
        assert_eq!(hidden(&BlockMessenger::hide_fn(|s| s.name == "b")), "b");
        assert_eq!(
            hidden(&BlockMessenger::expose_fn(|s| s.name == "b")),
            "a,y,p"
        );
    }

    #[test]
    fn errors() {
        let msg = |b: BlockBuilder| b.build().unwrap_err().to_string();
        assert_eq!(
            msg(BlockMessenger::builder()
                .hide_fn(|_| true)
                .expose_fn(|_| true)),
            "block: give only one of hide_fn and expose_fn"
        );
        assert_eq!(
            msg(BlockMessenger::builder().hide_all().expose_all()),
            "block: cannot both hide_all and expose_all"
        );
        assert_eq!(
            msg(BlockMessenger::builder()
                .hide(["x", "a"])
                .expose(["b", "a"])),
            "block: cannot hide and expose site 'a'"
        );
        assert_eq!(
            msg(BlockMessenger::builder()
                .hide(["a"])
                .expose([String::from("a")])),
            "block: cannot hide and expose site 'a'"
        );
        assert_eq!(
            msg(BlockMessenger::builder()
                .hide([Name::indexed("y", 2)])
                .expose(["y_2"])),
            "block: cannot hide and expose site 'y_2'"
        );
        assert_eq!(
            msg(BlockMessenger::builder()
                .hide_types([SiteType::Observe])
                .expose_types([SiteType::Sample, SiteType::Observe])),
            "block: cannot hide and expose site type 'observe'"
        );
        assert!(matches!(
            BlockMessenger::builder().hide_all().expose_all().build(),
            Err(PyroError::InvalidHandler {
                handler: "block",
                ..
            })
        ));
    }

    fn model(_: ()) -> Result<Real, PyroError> {
        let a = sample("a", Normal::new(0.0, 1.0))?;
        let b = sample("b", Normal::new(a, 1.0))?;
        observe("y", Normal::new(b, 1.0), 0.5)
    }

    fn names(tr: &pyro_trace::Trace) -> Vec<String> {
        tr.iter().map(|s| s.name.to_string()).collect()
    }

    #[test]
    fn hides_from_outer_trace_only() {
        // Inner trace sees everything; outer trace only what the block exposes.
        let (inner_tr, outer_tr) = {
            let (_, outer) = TraceMessenger::record(|| {
                BlockMessenger::hide(["a"])
                    .run(|| TraceMessenger::record(|| model(())).map(|(_, t)| t))
            })
            .unwrap();
            let inner = TraceMessenger::record(|| model(())).unwrap().1;
            (inner, outer)
        };
        assert_eq!(names(&inner_tr), ["a", "b", "y"]);
        assert_eq!(names(&outer_tr), ["b", "y"]);
        // Nested trace inside the block records everything.
        let nested = trace(BlockMessenger::new().wrap(trace(model)));
        let tr = nested.get_trace(()).unwrap();
        assert!(tr.is_empty());
        assert_eq!(stack_depth(), 0);
    }

    #[test]
    fn block_all_hides_everything_but_returns_values() {
        let tr = trace(block(|_: ()| -> Result<f64, PyroError> {
            let p: f64 = param("block_test_p_unique", 1.5, Constraint::Positive)?;
            factor("f", -1.0)?;
            deterministic("d", 2.0)?;
            let x = sample("x", Normal::new(p, 1.0))?;
            Ok(x.value() + p)
        }))
        .get_trace(())
        .unwrap();
        assert!(tr.is_empty());
        assert!(tr.output::<f64>().unwrap().is_finite());
    }

    #[test]
    fn hide_types_observe_covers_factor_and_deterministic() {
        let m = |_: ()| -> Result<(), PyroError> {
            sample("x", Normal::new(0.0, 1.0))?;
            factor("f", -1.0)?;
            deterministic("d", 2.0)?;
            Ok(())
        };
        let tr = trace(BlockMessenger::hide_types([SiteType::Observe]).wrap(m))
            .get_trace(())
            .unwrap();
        assert_eq!(names(&tr), ["x"]);
    }

    #[test]
    fn hidden_params_skip_outer_handlers_but_still_read_the_store() {
        let m = |_: ()| -> Result<f64, PyroError> {
            param("block_test_param_q", 2.5, Constraint::Real)
        };
        let tr = trace(BlockMessenger::hide_types([SiteType::Param]).wrap(m))
            .get_trace(())
            .unwrap();
        assert!(tr.is_empty());
        assert_eq!(tr.output::<f64>(), Some(&2.5));
    }

    #[test]
    fn outer_plate_misses_hidden_sites() {
        let tr = trace(|_: ()| {
            Plate::new("p", 10).subsample_size(5).run(|_| {
                BlockMessenger::hide(["a"]).run(|| {
                    sample("a", Batched::iid(Normal::new(0.0, 1.0)?, 5)?)?;
                    sample("b", Batched::iid(Normal::new(0.0, 1.0)?, 5)?)
                })
            })
        })
        .get_trace(())
        .unwrap();
        assert!(!tr.contains("a"));
        let b = tr.get("b").unwrap();
        assert_eq!(b.scale, 2.0);
        assert_eq!(b.cond_indep_stack.len(), 1);
        // A plate inside the block still applies to the hidden site, but the outer trace
        // misses it.
        let tr = trace(|_: ()| {
            BlockMessenger::hide(["a"]).run(|| {
                let (_, t) = TraceMessenger::record(|| {
                    Plate::new("q", 4)
                        .subsample_size(2)
                        .run(|_| sample("a", Batched::iid(Normal::new(0.0, 1.0)?, 2)?))
                })?;
                Ok::<_, PyroError>(t)
            })
        })
        .get_trace(())
        .unwrap();
        assert!(!tr.contains("a") && tr.contains("q"));
        let inner_a = tr.output::<pyro_trace::Trace>().unwrap().get("a").cloned();
        assert_eq!(inner_a.unwrap().scale, 2.0);
    }

    #[test]
    fn block_is_a_model_and_clone() {
        let b = BlockMessenger::expose(["b"]).wrap(model);
        let b2 = b.clone();
        let tr = trace(b2).get_trace(()).unwrap();
        assert_eq!(names(&tr), ["b"]);
        assert!(b.call(()).unwrap() == 0.5);
        assert!(format!("{:?}", BlockMessenger::hide(["a"])).contains("hide_all: false"));
        assert_eq!(
            format!("{:?}", BlockMessenger::hide_fn(|_| true)),
            "BlockMessenger { hide_fn }"
        );
    }

    #[test]
    fn stack_is_empty_after_errors() {
        let failing = |_: ()| -> Result<Real, PyroError> {
            sample("x", Normal::new(0.0, 1.0))?;
            sample("bad", Normal::new(0.0, -1.0))
        };
        assert!(trace(block(failing)).get_trace(()).is_err());
        assert_eq!(stack_depth(), 0);
        // Duplicate names are reported by an inner trace even though the block hides them.
        let dup = |_: ()| -> Result<(), PyroError> {
            sample("x", Normal::new(0.0, 1.0))?;
            sample("x", Normal::new(0.0, 1.0))?;
            Ok(())
        };
        assert!(block(trace(dup)).call(()).is_err());
        assert_eq!(stack_depth(), 0);
        // Hidden duplicates are invisible to an outer trace.
        assert!(trace(block(dup)).get_trace(()).is_ok());
    }
}
