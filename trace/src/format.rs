//! A human-readable table of a trace (Pyro's `format_shapes`).

use crate::site::{Site, SiteType};
use crate::trace::Trace;
use pyro_distributions::Value;
use std::fmt::{self, Write};

/// The column headers.
const HEADER: [&str; 6] = ["name", "kind", "dist", "batch", "value", "log_prob"];
/// Whether each column is right-aligned (the numeric ones).
const RIGHT: [bool; 6] = [false, false, false, true, false, true];
/// Vectors longer than this show only their first elements.
const SHOWN_ELEMENTS: usize = 4;

impl Trace {
    /// The trace as a table, one row per site in trace order, under a header: the name, the kind
    /// (`sample`, `observe` or `param`), the distribution family, the batch length (`-` for an
    /// unbatched site), the value (its type, its length for a vector, and its first elements),
    /// and the scaled, masked log-probability (cached or computed; `-` for a param site, `error`
    /// when scoring fails). Columns are aligned; numbers are right-aligned. The same text as
    /// `format!("{trace}")`.
    ///
    /// ```
    /// use pyro_trace::distributions::{Batched, Normal, Value};
    /// use pyro_trace::{Name, Site, Trace};
    ///
    /// let d = Normal::new(0.0, 1.0)?;
    /// let mut trace = Trace::new();
    /// trace.add_node(Site::param(Name::from("w"), Some(Value::Real(0.5))))?;
    /// let mut z = Site::sample(Name::from("z"), d.into());
    /// z.value = Some(Value::Real(0.0));
    /// trace.add_node(z)?;
    /// let ys = Value::Reals(vec![0.0, 1.0, 2.0]);
    /// trace.add_node(Site::observed(Name::from("y"), Batched::iid(d, 3)?.into(), ys))?;
    /// assert_eq!(
    ///     trace.format_table(),
    ///     "\
    /// name  kind     dist     batch  value                             log_prob
    /// w     param    -            -  real 0.5000                              -
    /// z     sample   Normal       -  real 0.0000                        -0.9189
    /// y     observe  Batched      3  real[3] [0.0000, 1.0000, 2.0000]   -5.2568"
    /// );
    /// assert_eq!(trace.to_string(), trace.format_table());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn format_table(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Trace {
    /// Writes [`Trace::format_table`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<[String; 6]> = self.iter().map(row).collect();
        let mut widths = HEADER.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        write_row(f, &HEADER, &widths)?;
        for row in &rows {
            f.write_char('\n')?;
            write_row(f, row, &widths)?;
        }
        Ok(())
    }
}

fn write_row(
    f: &mut fmt::Formatter<'_>,
    cells: &[impl AsRef<str>; 6],
    widths: &[usize; 6],
) -> fmt::Result {
    for (i, cell) in cells.iter().enumerate() {
        let cell = cell.as_ref();
        let last = i + 1 == cells.len();
        if i > 0 {
            f.write_str("  ")?;
        }
        let pad = widths[i] - cell.chars().count();
        if RIGHT[i] {
            write!(f, "{:pad$}{cell}", "")?;
        } else if last {
            f.write_str(cell)?;
        } else {
            write!(f, "{cell}{:pad$}", "")?;
        }
    }
    Ok(())
}

fn row(site: &Site) -> [String; 6] {
    let kind = match site.site_type() {
        SiteType::Sample => "sample",
        SiteType::Observe => "observe",
        SiteType::Param => "param",
    };
    let batch = site
        .dist
        .as_ref()
        .and_then(|d| d.batch_len())
        .map_or_else(|| "-".to_string(), |n| n.to_string());
    let log_prob = match site.site_type() {
        SiteType::Param => "-".to_string(),
        _ => site
            .log_prob_sum()
            .map_or_else(|_| "error".to_string(), real),
    };
    [
        site.name.to_string(),
        kind.to_string(),
        site.family().unwrap_or("-").to_string(),
        batch,
        site.value.as_ref().map_or_else(|| "-".to_string(), value),
        log_prob,
    ]
}

/// A real with four decimals, in scientific notation when very large or small.
fn real(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() || a == 0.0 || (1e-4..1e6).contains(&a) {
        format!("{x:.4}")
    } else {
        format!("{x:.4e}")
    }
}

/// The type, the length of a vector, and the (first) elements.
fn value(v: &Value) -> String {
    match v {
        Value::Bool(b) => format!("bool {b}"),
        Value::Int(k) => format!("int {k}"),
        Value::Real(x) => format!("real {}", real(*x)),
        Value::Bools(v) => vector("bool", v.len(), v.iter().map(bool::to_string)),
        Value::Ints(v) => vector("int", v.len(), v.iter().map(i64::to_string)),
        Value::Reals(v) => vector("real", v.len(), v.iter().map(|&x| real(x))),
    }
}

fn vector(kind: &str, len: usize, elements: impl Iterator<Item = String>) -> String {
    let mut s = format!("{kind}[{len}] [");
    for (i, e) in elements.take(SHOWN_ELEMENTS).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&e);
    }
    if len > SHOWN_ELEMENTS {
        s.push_str(", …");
    }
    s.push(']');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Mask, Name};
    use pyro_distributions::{Bernoulli, Normal};

    #[test]
    fn reals_are_compact() {
        assert_eq!(real(0.5), "0.5000");
        assert_eq!(real(0.0), "0.0000");
        assert_eq!(real(-1234.5), "-1234.5000");
        assert_eq!(real(1e300), "1.0000e300");
        assert_eq!(real(-2.5e-7), "-2.5000e-7");
        assert_eq!(real(f64::NEG_INFINITY), "-inf");
        assert_eq!(real(f64::NAN), "NaN");
    }

    #[test]
    fn long_vectors_are_cut() {
        let v = Value::Ints((0..10).collect());
        assert_eq!(value(&v), "int[10] [0, 1, 2, 3, …]");
        assert_eq!(value(&Value::Bools(vec![true])), "bool[1] [true]");
        assert_eq!(value(&Value::Reals(vec![])), "real[0] []");
    }

    #[test]
    fn rows_show_masks_errors_and_missing_values() {
        let mut trace = Trace::new();
        let mut b = Site::sample(Name::from("coin"), Bernoulli::new(0.5).unwrap().into());
        b.value = Some(Value::Bool(true));
        b.mask = Some(Mask::All(false));
        trace.add_node(b).unwrap();
        // No value yet: cannot be scored.
        trace
            .add_node(Site::sample(
                Name::from("pending_site"),
                Normal::new(0.0, 1.0).unwrap().into(),
            ))
            .unwrap();
        trace.add_node(Site::param(Name::from("p"), None)).unwrap();
        let table = trace.format_table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines,
            [
                "name          kind    dist       batch  value      log_prob",
                "coin          sample  Bernoulli      -  bool true    0.0000",
                "pending_site  sample  Normal         -  -             error",
                "p             param   -              -  -                 -",
            ]
        );
        assert!(lines.iter().all(|l| !l.ends_with(' ')));
    }

    #[test]
    fn empty_trace_is_a_header() {
        assert_eq!(
            Trace::new().to_string(),
            "name  kind  dist  batch  value  log_prob"
        );
    }
}
