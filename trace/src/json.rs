//! The serde form of a trace, and its JSON round trip.

use crate::error::TraceError;
use crate::name::Name;
use crate::nonfinite::{JsonF64, ValueRepr};
use crate::site::{Frame, InferConfig, Mask, Site, SiteKind};
use crate::trace::Trace;
use serde::de::Error as _;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::sync::Arc;

/// One site as serialised: borrowed from the site when written, owned when read.
#[derive(Serialize, Deserialize)]
struct SiteRecord<'a> {
    name: Cow<'a, Name>,
    kind: SiteKind,
    #[serde(default)]
    family: Option<Cow<'a, str>>,
    #[serde(default)]
    value: Option<ValueRepr<'a>>,
    #[serde(default)]
    is_observed: bool,
    #[serde(default)]
    infer: Cow<'a, InferConfig>,
    #[serde(with = "crate::nonfinite")]
    scale: f64,
    #[serde(default)]
    mask: Option<Cow<'a, Mask>>,
    #[serde(default)]
    cond_indep_stack: Cow<'a, [Frame]>,
    #[serde(default)]
    log_prob: Option<JsonF64>,
}

impl<'a> SiteRecord<'a> {
    fn of(site: &'a Site) -> Self {
        let log_prob = site.recorded_log_prob().map(JsonF64);
        SiteRecord {
            name: Cow::Borrowed(&site.name),
            kind: site.kind,
            family: site.family().map(Cow::Borrowed),
            value: site.value.as_ref().map(|v| ValueRepr(Cow::Borrowed(v))),
            is_observed: site.is_observed,
            infer: Cow::Borrowed(&site.infer),
            scale: site.scale,
            mask: site.mask.as_ref().map(Cow::Borrowed),
            cond_indep_stack: Cow::Borrowed(&site.cond_indep_stack[..]),
            log_prob,
        }
    }

    fn into_site(self) -> Site {
        let name = self.name.into_owned();
        let mut site = Site::blank(self.kind, name, None);
        site.value = self.value.map(|v| v.0.into_owned());
        site.is_observed = self.is_observed;
        site.infer = self.infer.into_owned();
        site.scale = self.scale;
        site.mask = self.mask.map(Cow::into_owned);
        site.cond_indep_stack = self.cond_indep_stack.into_owned();
        // A recorded site has been through the whole stack.
        site.done = true;
        if site.kind == SiteKind::Sample {
            site.log_prob = self.log_prob.map(|x| x.0);
        }
        site.restored_family = self.family.map(|f| Arc::from(f.as_ref()));
        site
    }
}

/// The sites of a trace, written one record at a time.
struct Sites<'a>(&'a Trace);

impl Serialize for Sites<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(SiteRecord::of))
    }
}

/// Writes `{"sites": [...]}`, one record per site (see [`Trace::to_json`]).
impl Serialize for Trace {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut record = s.serialize_struct("Trace", 1)?;
        record.serialize_field("sites", &Sites(self))?;
        record.end()
    }
}

#[derive(Deserialize)]
struct TraceRecord {
    sites: Vec<SiteRecord<'static>>,
}

/// Reads what [`Serialize`] wrote (see [`Trace::from_json`]); the sites are checked as by
/// [`Trace::add_node`].
impl<'de> Deserialize<'de> for Trace {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let record = TraceRecord::deserialize(d)?;
        let mut trace = Trace::new();
        for site in record.sites {
            trace.add_node(site.into_site()).map_err(D::Error::custom)?;
        }
        Ok(trace)
    }
}

impl Trace {
    /// The trace as JSON: `{"sites": [...]}` with one record per site, in trace order, holding
    /// its name, kind, distribution family, value, `is_observed`, `infer`, scale, mask,
    /// `cond_indep_stack` and log-probability (the cached one, or computed now; `null` for a
    /// param site or a site that cannot be scored).
    ///
    /// Not serialised: the distribution itself (only its family name), the model's return value
    /// ([`Trace::output`]), and the in-flight flags `stop` and `continuation`. Non-finite floats
    /// (values, scales, log-probabilities) are written as the strings `"inf"`, `"-inf"` and
    /// `"NaN"`; finite floats round-trip exactly.
    ///
    /// ```
    /// use pyro_trace::distributions::{Normal, Value};
    /// use pyro_trace::{Name, Site, Trace};
    ///
    /// let mut trace = Trace::new();
    /// let d = Normal::new(0.0, 1.0)?;
    /// trace.add_node(Site::observed(Name::from("y"), d.into(), Value::Real(f64::NEG_INFINITY)))?;
    /// let json = trace.to_json();
    /// assert!(json.contains(r#""value":{"Real":"-inf"}"#));
    /// assert!(json.contains(r#""log_prob":"-inf""#));
    ///
    /// let back = Trace::from_json(&json)?;
    /// let y = back.get("y").unwrap();
    /// assert!(y.dist.is_none());
    /// assert_eq!(y.family(), Some("Normal"));
    /// assert_eq!(back.log_prob_sum(|_| true)?, f64::NEG_INFINITY);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_json(&self) -> String {
        // Every Serialize impl involved is infallible (string keys, no custom errors).
        serde_json::to_string(self).expect("a trace always serialises to JSON")
    }

    /// Reads a trace written by [`Trace::to_json`]. The sites have no distribution
    /// (`dist = None`) but keep their family name ([`Site::family`]) and their log-probability
    /// as a cache, so [`Trace::log_prob_sum`] gives the original's sum as long as the sites
    /// are not modified ([`Trace::get_mut`] drops the cache, and a site without a distribution
    /// cannot be scored again). The output is not restored.
    ///
    /// # Errors
    /// [`TraceError::Json`] for malformed JSON, or for sites that [`Trace::add_node`] rejects
    /// (e.g. two sample sites of the same name).
    pub fn from_json(json: &str) -> Result<Trace, TraceError> {
        serde_json::from_str(json).map_err(|e| TraceError::Json {
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InferValue;
    use pyro_distributions::{Batched, Bernoulli, Normal, Uniform, Value};

    fn frame(name: &'static str, counter: Option<usize>) -> Frame {
        Frame {
            name: Name::from(name),
            size: 2,
            full_size: 10,
            counter,
        }
    }

    fn sample_trace() -> Trace {
        let d = Normal::new(0.5, 2.0).unwrap();
        let mut trace = Trace::new();
        trace
            .add_node(Site::param(
                Name::from("w"),
                Some(Value::Reals(vec![1.0, -2.0])),
            ))
            .unwrap();
        let mut z = Site::sample(Name::from("z"), d.into());
        z.value = Some(Value::Real(0.25));
        z.infer
            .insert("enumerate", InferValue::Str("parallel".into()));
        z.infer
            .insert("temperature", InferValue::Real(f64::INFINITY));
        z.infer
            .insert("obs", InferValue::Value(Value::Real(f64::NAN)));
        trace.add_node(z).unwrap();
        let mut y = Site::observed(
            Name::indexed("y", 3),
            Batched::iid(d, 2).unwrap().into(),
            Value::Reals(vec![1.0, f64::NAN]),
        );
        y.mask = Some(Mask::Elements(vec![true, false].into()));
        y.scale = 5.0;
        y.cond_indep_stack.push(frame("data", None));
        trace.add_node(y).unwrap();
        let mut c = Site::observed(
            Name::from("coin"),
            Bernoulli::new(0.0).unwrap().into(),
            Value::Bool(true),
        );
        c.cond_indep_stack.push(frame("outer", Some(1)));
        trace.add_node(c).unwrap();
        trace
    }

    #[test]
    fn records_every_field() {
        let trace = sample_trace();
        let json: serde_json::Value = serde_json::from_str(&trace.to_json()).unwrap();
        let sites = json["sites"].as_array().unwrap();
        assert_eq!(sites.len(), 4);
        assert_eq!(sites[0]["kind"], "Param");
        assert_eq!(sites[0]["log_prob"], serde_json::Value::Null);
        assert_eq!(sites[0]["family"], serde_json::Value::Null);
        assert_eq!(sites[1]["family"], "Normal");
        assert_eq!(sites[1]["infer"][1][1]["Real"], "inf");
        assert_eq!(sites[1]["infer"][2][1]["Value"]["Real"], "NaN");
        assert_eq!(sites[2]["name"], "y_3");
        assert_eq!(sites[2]["family"], "Batched");
        assert_eq!(sites[2]["value"]["Reals"][1], "NaN");
        assert_eq!(sites[2]["mask"]["Elements"][1], false);
        assert_eq!(sites[2]["scale"], 5.0);
        assert_eq!(sites[2]["cond_indep_stack"][0]["name"], "data");
        assert_eq!(
            sites[2]["cond_indep_stack"][0]["counter"],
            serde_json::Value::Null
        );
        assert_eq!(sites[3]["log_prob"], "-inf");
        assert_eq!(sites[3]["cond_indep_stack"][0]["counter"], 1);
    }

    /// Issue 11, item 8: a NaN log-probability survives the round trip as `+inf` and `-inf`
    /// do: the restored site fails to score alike, naming it (before, it came back with no
    /// log-probability and failed as a site without a distribution).
    #[test]
    fn a_nan_log_prob_round_trips() {
        let mut trace = Trace::new();
        // Scale infinity times log-probability 0 is NaN.
        let mut site = Site::observed(
            Name::from("w"),
            Uniform::new(0.0, 1.0).unwrap().into(),
            Value::Real(0.5),
        );
        site.scale = f64::INFINITY;
        site.mask = Some(Mask::All(true));
        let lp = site.log_prob_sum();
        trace.add_node(site).unwrap();
        let mut nan_value = Site::sample(Name::from("v"), Normal::new(0.0, 1.0).unwrap().into());
        nan_value.value = Some(Value::Real(f64::NAN));
        trace.add_node(nan_value).unwrap();
        let json = trace.to_json();
        let record: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(record["sites"][0]["log_prob"], "NaN");
        let back = Trace::from_json(&json).unwrap();
        let err = back.get("w").unwrap().log_prob_sum().unwrap_err();
        assert!(lp.is_err());
        assert_eq!(
            err.to_string(),
            "Error while computing log_prob at site 'w': the cached log_prob is NaN"
        );
        assert_eq!(
            back.log_prob_sum(|_| true).unwrap_err().to_string(),
            err.to_string()
        );
        // A NaN value comes back as NaN.
        assert!(matches!(back.get("v").unwrap().value, Some(Value::Real(x)) if x.is_nan()));
    }

    #[test]
    fn round_trip_keeps_sites_and_sums() {
        let trace = sample_trace();
        let json = trace.to_json();
        let back = Trace::from_json(&json).unwrap();
        assert_eq!(back.len(), trace.len());
        for (a, b) in trace.iter().zip(back.iter()) {
            assert_eq!(a.name, b.name);
            assert_eq!(a.kind, b.kind);
            assert_eq!(a.family(), b.family());
            assert_eq!(a.is_observed, b.is_observed);
            assert_eq!(a.scale, b.scale);
            assert_eq!(a.mask, b.mask);
            assert_eq!(a.cond_indep_stack, b.cond_indep_stack);
            assert_eq!(format!("{:?}", a.value), format!("{:?}", b.value));
            assert_eq!(format!("{:?}", a.infer), format!("{:?}", b.infer));
            assert!(b.dist.is_none());
            assert!(b.done);
        }
        let sum = trace.log_prob_sum(|_| true).unwrap();
        assert_eq!(sum, f64::NEG_INFINITY); // the impossible coin
        assert_eq!(back.log_prob_sum(|_| true).unwrap(), sum);
        let finite = |s: &Site| s.name != "coin";
        let expected = trace.log_prob_sum(finite).unwrap();
        assert!(expected.is_finite());
        assert_eq!(
            back.log_prob_sum(finite).unwrap().to_bits(),
            expected.to_bits()
        );
        // Writing the restored trace again gives the same text.
        assert_eq!(back.to_json(), json);
    }

    #[test]
    fn restored_sites_need_their_cache() {
        let mut back = Trace::from_json(&sample_trace().to_json()).unwrap();
        back.get_mut("z").unwrap();
        let err = back.log_prob_sum(|_| true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Error while computing log_prob at site 'z': the sample site has no distribution"
        );
    }

    #[test]
    fn unscorable_sites_are_written_without_log_prob() {
        let mut trace = Trace::new();
        trace
            .add_node(Site::sample(
                Name::from("x"),
                Normal::new(0.0, 1.0).unwrap().into(),
            ))
            .unwrap();
        let json = trace.to_json();
        assert!(json.contains(r#""log_prob":null"#), "{json}");
        let back = Trace::from_json(&json).unwrap();
        assert!(back.log_prob_sum(|_| true).is_err());
    }

    #[test]
    fn cached_nan_is_kept_and_reported() {
        let json = r#"{"sites":[{"name":"x","kind":"Sample","scale":"inf","log_prob":"NaN"}]}"#;
        let trace = Trace::from_json(json).unwrap();
        let x = trace.get("x").unwrap();
        assert!(x.cached_log_prob().unwrap().is_nan());
        assert_eq!(x.scale, f64::INFINITY);
        // Written again, the NaN stays (issue 11, item 8; it used to be written as null).
        assert!(trace.to_json().contains(r#""log_prob":"NaN""#));
        let err = trace.log_prob_sum(|_| true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Error while computing log_prob at site 'x': the cached log_prob is NaN"
        );
    }

    #[test]
    fn bad_json_is_an_error() {
        let dup = r#"{"sites":[{"name":"x","kind":"Sample","scale":1.0},
                                {"name":"x","kind":"Sample","scale":1.0}]}"#;
        let err = Trace::from_json(dup).unwrap_err();
        assert!(
            matches!(&err, TraceError::Json { reason } if reason.starts_with("Multiple sample sites named 'x'")),
            "{err}"
        );
        let err = Trace::from_json(r#"{"sites":[{"name":"x"}]}"#).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Invalid trace JSON: missing field"),
            "{err}"
        );
        assert!(Trace::from_json("[").is_err());
        let err = Trace::from_json(r#"{"sites":[{"name":"x","kind":"Sample","scale":"big"}]}"#)
            .unwrap_err();
        assert!(err.to_string().contains("invalid value"), "{err}");
    }

    #[test]
    fn output_is_not_serialised() {
        let mut trace = sample_trace();
        trace.set_output(42_i32);
        let back = Trace::from_json(&trace.to_json()).unwrap();
        assert_eq!(trace.output::<i32>(), Some(&42));
        assert_eq!(back.output::<i32>(), None);
    }
}
