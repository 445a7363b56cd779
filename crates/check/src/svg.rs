//! A violation as an SVG picture: one lane per process, one bar per op from invoke to
//! completion, green where the op is in the linearizable prefix, red where it could not
//! be placed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::report::Violation;

const LANE: usize = 56;
const STEP: usize = 28;
const LEFT: usize = 80;
const TOP: usize = 40;

/// Renders `violation` as a standalone SVG document.
pub fn render_svg(violation: &Violation) -> String {
    let ops = violation.window();
    let points = super::report::time_points(&ops);
    let x = |index: usize| LEFT + STEP * points.partition_point(|&p| p < index);
    let end_x = LEFT + STEP * (points.len() + 1);
    let lanes: BTreeMap<u64, usize> = ops
        .iter()
        .map(|(_, op, _)| op.process)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .enumerate()
        .map(|(lane, process)| (process, lane))
        .collect();
    let legend_top = TOP + LANE * lanes.len() + 20;
    let height = legend_top + 18 * (ops.len() + violation.unplaced.len() + 3);
    let width = (end_x + 40).max(900);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let title = match &violation.partition {
        Some(part) => format!("not linearizable ({part})"),
        None => "not linearizable".to_string(),
    };
    let _ = writeln!(
        svg,
        r#"<text x="10" y="20" font-size="14" font-weight="bold">{} - prefix of {} ops, then stuck in state {}</text>"#,
        escape(&title),
        violation.linearized.len(),
        escape(&violation.state)
    );
    for (process, lane) in &lanes {
        let y = TOP + LANE * lane;
        let _ = writeln!(svg, r#"<text x="10" y="{}">p{process}</text>"#, y + 24);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{0}" x2="{end_x}" y2="{0}" stroke="#ddd"/>"##,
            y + 20
        );
    }
    for (name, op, order) in &ops {
        let y = TOP + LANE * lanes[&op.process] + 8;
        let x0 = x(op.invoke);
        let x1 = op.complete.map_or(end_x, x).max(x0 + STEP / 2);
        let (fill, stroke) = match order {
            Some(_) => ("#c8e6c9", "#2e7d32"),
            None => ("#ffcdd2", "#c62828"),
        };
        let dash = if op.outcome == "ok" {
            ""
        } else {
            r#" stroke-dasharray="4 3""#
        };
        let _ = writeln!(
            svg,
            r#"<g><title>{}</title><rect x="{x0}" y="{y}" width="{}" height="24" rx="4" fill="{fill}" stroke="{stroke}"{dash}/><text x="{}" y="{}">{}</text></g>"#,
            escape(&format!("p{} {} ({})", op.process, op.text, op.outcome)),
            x1 - x0,
            x0 + 4,
            y + 16,
            escape(name)
        );
    }
    let mut y = legend_top;
    for (name, op, order) in &ops {
        let what = match order {
            Some(k) => format!("placed #{k}"),
            None => "NOT PLACED".to_string(),
        };
        let _ = writeln!(
            svg,
            r#"<text x="10" y="{y}">{}</text>"#,
            escape(&format!(
                "{name:<3} p{:<4} line {:<6} {:<30} {what}",
                op.process, op.invoke_line, op.text
            ))
        );
        y += 18;
    }
    y += 8;
    for un in &violation.unplaced {
        let _ = writeln!(
            svg,
            r##"<text x="10" y="{y}" fill="#c62828">{}</text>"##,
            escape(&format!("p{} {}: {}", un.op.process, un.op.text, un.reason))
        );
        y += 18;
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
