//! Nomad's `formatAllocMetrics`: why placements failed, one `* ...` line per reason.
//!
//! Caravan prints the pre-0.11 wording the workshop shows
//! (`* Constraint "${attr.os.name} = windows" filtered 3 nodes`). Nomad iterates Go
//! maps in random order; here every map is a `BTreeMap`, so lines are sorted by key.

use caravan_structs::AllocMetric;

use crate::columnize::format_list;

/// The metric lines for one task group, each starting with `prefix` and `* `, joined by
/// newlines (no trailing newline). With `scores`, the per-node score table follows.
pub fn format_alloc_metrics(metrics: &AllocMetric, scores: bool, prefix: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    if metrics.nodes_evaluated == 0 {
        lines.push(format!("{prefix}* No nodes were eligible for evaluation"));
    }
    for (dc, available) in &metrics.nodes_available {
        if *available == 0 {
            lines.push(format!(
                "{prefix}* No nodes are available in datacenter {dc:?}"
            ));
        }
    }
    for (class, count) in &metrics.class_filtered {
        lines.push(format!("{prefix}* Class {class:?} filtered {count} nodes"));
    }
    for (constraint, count) in &metrics.constraint_filtered {
        lines.push(format!(
            "{prefix}* Constraint {constraint:?} filtered {count} nodes"
        ));
    }
    if metrics.nodes_exhausted > 0 {
        lines.push(format!(
            "{prefix}* Resources exhausted on {} nodes",
            metrics.nodes_exhausted
        ));
    }
    for (class, count) in &metrics.class_exhausted {
        lines.push(format!(
            "{prefix}* Class {class:?} exhausted on {count} nodes"
        ));
    }
    for (dimension, count) in &metrics.dimension_exhausted {
        lines.push(format!(
            "{prefix}* Dimension {dimension:?} exhausted on {count} nodes"
        ));
    }
    for dimension in &metrics.quota_exhausted {
        lines.push(format!("{prefix}* Quota limit hit {dimension:?}"));
    }
    let mut out = lines.join("\n");
    if scores && !metrics.score_meta_data.is_empty() {
        let mut scorer_names: Vec<&str> = metrics.score_meta_data[0].scores.keys().collect();
        scorer_names.sort();
        let mut rows = Vec::with_capacity(metrics.score_meta_data.len() + 1);
        let mut header = String::from("Node|");
        for name in &scorer_names {
            header.push_str(name);
            header.push('|');
        }
        header.push_str("final score");
        rows.push(header);
        for meta in &metrics.score_meta_data {
            let mut row = format!("{}|", meta.node_id);
            for name in &scorer_names {
                let value = meta.scores.get(name).copied().unwrap_or(0.0);
                row.push_str(&format_g3(value));
                row.push('|');
            }
            row.push_str(&format_g3(meta.norm_score));
            rows.push(row);
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format_list(&rows));
    }
    out
}

/// Go's `fmt.Sprintf("%.3g", v)`.
pub fn format_g3(value: f64) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    if !value.is_finite() {
        return if value.is_nan() {
            "NaN".into()
        } else if value > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sci = format!("{value:.2e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..3).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        let decimals = (2 - exp).max(0) as usize;
        trim(&format!("{value:.decimals$}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, i64)]) -> caravan_structs::FlatMap<i64> {
        entries.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn seed_constraint_line() {
        let m = AllocMetric {
            nodes_evaluated: 3,
            nodes_filtered: 3,
            constraint_filtered: map(&[("${attr.os.name} = windows", 3)]),
            ..AllocMetric::default()
        };
        assert_eq!(
            format_alloc_metrics(&m, false, "  "),
            "  * Constraint \"${attr.os.name} = windows\" filtered 3 nodes"
        );
    }

    #[test]
    fn every_reason_in_nomads_order() {
        let m = AllocMetric {
            nodes_evaluated: 0,
            nodes_available: map(&[("dc2", 0), ("dc1", 2)]),
            class_filtered: map(&[("gpu", 1)]),
            constraint_filtered: map(&[("b", 2), ("a", 1)]),
            nodes_exhausted: 2,
            class_exhausted: map(&[("big", 1)]),
            dimension_exhausted: map(&[("memory", 2), ("cpu", 1)]),
            quota_exhausted: vec!["cpu".into()],
            ..AllocMetric::default()
        };
        let want = [
            "* No nodes were eligible for evaluation",
            "* No nodes are available in datacenter \"dc2\"",
            "* Class \"gpu\" filtered 1 nodes",
            "* Constraint \"a\" filtered 1 nodes",
            "* Constraint \"b\" filtered 2 nodes",
            "* Resources exhausted on 2 nodes",
            "* Class \"big\" exhausted on 1 nodes",
            "* Dimension \"cpu\" exhausted on 1 nodes",
            "* Dimension \"memory\" exhausted on 2 nodes",
            "* Quota limit hit \"cpu\"",
        ]
        .join("\n");
        assert_eq!(format_alloc_metrics(&m, false, ""), want);
    }

    #[test]
    fn g3_table() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (1.0, "1"),
            (0.5, "0.5"),
            (0.123456, "0.123"),
            (-0.25, "-0.25"),
            (12.345, "12.3"),
            (999.7, "1e+03"),
            (1234.5, "1.23e+03"),
            (0.00001234, "1.23e-05"),
            (0.0001, "0.0001"),
        ];
        for (v, want) in cases {
            assert_eq!(format_g3(*v), *want, "value {v}");
        }
    }
}
