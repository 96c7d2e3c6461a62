//! The report's charts as server-side SVG: lines for the trend, bars for
//! channels, a heat map of hour × weekday. Drawn in a narrow view box (a
//! phone's width) that scales up, with presentation attributes only (the
//! CSP allows no inline styles) and a text alternative for each.

use std::fmt::Write;

use crate::services::reports::build::{ChannelShare, Point};

/// Text for SVG: `<`, `>`, `&` and quotes escaped.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const W: f64 = 360.0;
const INK: &str = "#1f2937";
const GRID: &str = "#d1d5db";
const NEW: &str = "#2563eb";
const DONE: &str = "#059669";

/// Conversations started and resolved per step of the trend.
pub fn trend(points: &[Point], step: &str) -> String {
    let (h, left, right, top, bottom) = (200.0, 34.0, 8.0, 24.0, 28.0);
    let max = points.iter().map(|p| p.conversations.max(p.resolved)).max().unwrap_or(0).max(1) as f64;
    let n = points.len().max(1);
    let x = |i: usize| left + (W - left - right) * if n == 1 { 0.5 } else { i as f64 / (n - 1) as f64 };
    let y = |v: i64| top + (h - top - bottom) * (1.0 - v as f64 / max);
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {W} {h}" role="img" aria-label="New and resolved conversations by {step}" xmlns="http://www.w3.org/2000/svg">"#
    );
    for frac in [0.0, 0.5, 1.0] {
        let v = (max * frac).round() as i64;
        let _ = write!(
            svg,
            r#"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="{GRID}" stroke-width="0.5"/><text x="{}" y="{:.1}" font-size="9" text-anchor="end" fill="{INK}">{v}</text>"#,
            W - right,
            left - 4.0,
            y(v) + 3.0,
            y = y(v)
        );
    }
    for (series, color, value) in
        [("new", NEW, (|p: &Point| p.conversations) as fn(&Point) -> i64), ("resolved", DONE, |p: &Point| p.resolved)]
    {
        let pts: Vec<String> =
            points.iter().enumerate().map(|(i, p)| format!("{:.1},{:.1}", x(i), y(value(p)))).collect();
        let _ = write!(
            svg,
            r#"<polyline class="line-{series}" fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            pts.join(" ")
        );
        if points.len() == 1 {
            let _ = write!(svg, r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"/>"#, x(0), y(value(&points[0])));
        }
    }
    // First, middle and last steps named under the axis.
    let mut named: Vec<usize> = vec![0, points.len() / 2, points.len().saturating_sub(1)];
    named.dedup();
    for i in named.into_iter().filter(|i| *i < points.len()) {
        let label = points[i].start.strftime("%b %-d").to_string();
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" font-size="9" text-anchor="middle" fill="{INK}">{}</text>"#,
            x(i).clamp(left + 14.0, W - right - 14.0),
            h - 10.0,
            esc(&label)
        );
    }
    let _ = write!(
        svg,
        r#"<rect x="{left}" y="4" width="10" height="4" fill="{NEW}"/><text x="{}" y="10" font-size="9" fill="{INK}">new</text><rect x="{}" y="4" width="10" height="4" fill="{DONE}"/><text x="{}" y="10" font-size="9" fill="{INK}">resolved</text></svg>"#,
        left + 14.0,
        left + 50.0,
        left + 64.0
    );
    svg
}

/// Each channel's share of new conversations, as horizontal bars.
pub fn channels(shares: &[ChannelShare]) -> String {
    let row = 26.0;
    let h = (shares.len().max(1) as f64) * row + 8.0;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {W} {h}" role="img" aria-label="Share of new conversations by channel" xmlns="http://www.w3.org/2000/svg">"#
    );
    let (left, right) = (80.0, 70.0);
    for (i, c) in shares.iter().enumerate() {
        let y = 4.0 + i as f64 * row;
        let width = ((W - left - right) * c.percent / 100.0).max(1.0);
        let _ = write!(
            svg,
            r#"<text x="{}" y="{:.1}" font-size="11" text-anchor="end" fill="{INK}">{}</text><rect class="bar" x="{left}" y="{y:.1}" width="{width:.1}" height="{}" fill="{NEW}"/><text x="{:.1}" y="{:.1}" font-size="11" fill="{INK}">{:.0}% ({})</text>"#,
            left - 6.0,
            y + 14.0,
            esc(&c.channel),
            row - 8.0,
            left + width + 6.0,
            y + 14.0,
            c.percent,
            c.conversations
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Customers' messages by weekday (rows, Monday first) and hour (columns): darker is busier.
pub fn heat_map(hours: &[Vec<i64>]) -> String {
    let (left, top, cell_w, cell_h) = (30.0, 16.0, (W - 34.0) / 24.0, 18.0);
    let h = top + 7.0 * cell_h + 4.0;
    let max = hours.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {W} {h}" role="img" aria-label="Customers' messages by weekday and hour of the day" xmlns="http://www.w3.org/2000/svg">"#
    );
    for hour in [0, 6, 12, 18] {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="11" font-size="9" fill="{INK}">{hour:02}</text>"#,
            left + hour as f64 * cell_w
        );
    }
    for (d, (name, row)) in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].iter().zip(hours).enumerate() {
        let y = top + d as f64 * cell_h;
        let _ = write!(svg, r#"<text x="0" y="{:.1}" font-size="10" fill="{INK}">{name}</text>"#, y + 13.0);
        for (hour, count) in row.iter().enumerate() {
            // Empty cells stay light grey; the busiest is full blue.
            let shade = if *count == 0 { 0.0 } else { 0.15 + 0.85 * (*count as f64 / max) };
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}" fill-opacity="{:.2}"><title>{name} {hour:02}:00 · {count}</title></rect>"#,
                left + hour as f64 * cell_w,
                cell_w - 1.0,
                cell_h - 1.0,
                if *count == 0 { GRID } else { NEW },
                if *count == 0 { 0.5 } else { shade }
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_and_empty_reports_still_draw() {
        let s = channels(&[ChannelShare { channel: "<b>".into(), conversations: 1, percent: 100.0 }]);
        assert!(s.contains("&lt;b&gt;") && !s.contains("<b>"));
        assert!(trend(&[], "day").starts_with("<svg"));
        assert!(heat_map(&vec![vec![0; 24]; 7]).ends_with("</svg>"));
    }
}
