//! Hand-written SVG line charts: no plotting crate, no fonts to ship, and
//! any browser shows the result.

use std::fmt::Write;

use super::metrics::Metrics;
use super::run::LearningCurve;

pub struct Series {
    pub name: String,
    pub colour: &'static str,
    /// (x, y), both in [0, 1] of the axes' ranges.
    pub points: Vec<(f64, f64)>,
}

pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    pub series: Vec<Series>,
    /// A labelled point to mark, such as the operating threshold.
    pub marker: Option<(f64, f64, String)>,
}

const W: f64 = 720.0;
const H: f64 = 480.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Chart {
    fn x(&self, v: f64) -> f64 {
        let (lo, hi) = self.x_range;
        LEFT + (v - lo) / (hi - lo).max(f64::EPSILON) * (W - LEFT - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        let (lo, hi) = self.y_range;
        H - BOTTOM - (v - lo) / (hi - lo).max(f64::EPSILON) * (H - TOP - BOTTOM)
    }

    pub fn to_svg(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="28" font-size="16" text-anchor="middle">{}</text>"#,
            W / 2.0,
            escape(&self.title)
        );
        for i in 0..=5 {
            let t = i as f64 / 5.0;
            let xv = self.x_range.0 + t * (self.x_range.1 - self.x_range.0);
            let yv = self.y_range.0 + t * (self.y_range.1 - self.y_range.0);
            let (x, y) = (self.x(xv), self.y(yv));
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                TOP,
                H - BOTTOM,
                H - BOTTOM + 18.0,
                tick(xv, self.x_range)
            );
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                W - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                tick(yv, self.y_range)
            );
        }
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{:.1}" fill="none" stroke="#333"/>"##,
            W - LEFT - RIGHT,
            H - TOP - BOTTOM
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            LEFT + (W - LEFT - RIGHT) / 2.0,
            H - 15.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            s,
            r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">{}</text>"#,
            TOP + (H - TOP - BOTTOM) / 2.0,
            TOP + (H - TOP - BOTTOM) / 2.0,
            escape(&self.y_label)
        );
        for (i, series) in self.series.iter().enumerate() {
            let path: Vec<String> = series
                .points
                .iter()
                .map(|&(x, y)| format!("{:.1},{:.1}", self.x(x), self.y(y)))
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"#,
                path.join(" "),
                series.colour
            );
            let ly = TOP + 16.0 + 16.0 * i as f64;
            let _ = writeln!(
                s,
                r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{}</text>"#,
                LEFT + 10.0,
                LEFT + 30.0,
                series.colour,
                LEFT + 36.0,
                ly + 4.0,
                escape(&series.name)
            );
        }
        if let Some((x, y, label)) = &self.marker {
            let (px, py) = (self.x(*x), self.y(*y));
            let _ = writeln!(
                s,
                r##"<circle cx="{px:.1}" cy="{py:.1}" r="5" fill="#d62728"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                px - 8.0,
                py + 18.0,
                escape(label)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

fn tick(v: f64, (lo, hi): (f64, f64)) -> String {
    if hi - lo >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Accuracy of the answered messages against the share answered.
pub fn coverage_chart(metrics: &Metrics) -> Chart {
    let points: Vec<(f64, f64)> = metrics
        .coverage_curve
        .iter()
        .map(|p| (p.coverage, p.accuracy))
        .collect();
    let floor = points
        .iter()
        .map(|p| p.1)
        .fold(1.0f64, f64::min)
        .min(metrics.target_accuracy);
    let y_lo = (floor * 20.0).floor() / 20.0;
    let target = metrics.target_accuracy;
    Chart {
        title: format!(
            "Coverage vs accuracy: {:.1}% answered at ≥{:.0}% accuracy",
            metrics.coverage_at_target * 100.0,
            target * 100.0
        ),
        x_label: "coverage (share of messages answered without a person)".into(),
        y_label: "accuracy of answered messages".into(),
        x_range: (0.0, 1.0),
        y_range: (y_lo, 1.0),
        series: vec![
            Series {
                name: "model".into(),
                colour: "#1f77b4",
                points,
            },
            Series {
                name: format!("target {:.0}%", target * 100.0),
                colour: "#999999",
                points: vec![(0.0, target), (1.0, target)],
            },
        ],
        marker: (metrics.coverage_at_target > 0.0).then(|| {
            (
                metrics.coverage_at_target,
                target,
                format!("threshold {:.3}", metrics.threshold_at_target),
            )
        }),
    }
}

/// Accuracy after each batch of corrections.
pub fn learning_chart(curve: &LearningCurve) -> Chart {
    let points: Vec<(f64, f64)> = curve
        .points
        .iter()
        .map(|p| (p.examples as f64, p.accuracy))
        .collect();
    let x_hi = points.last().map_or(1.0, |p| p.0).max(1.0);
    let y_lo = points.iter().map(|p| p.1).fold(1.0f64, f64::min);
    Chart {
        title: "Learning from reviewer corrections".into(),
        x_label: "training examples (seed + corrections)".into(),
        y_label: "accuracy".into(),
        x_range: (0.0, x_hi),
        y_range: ((y_lo * 20.0).floor() / 20.0, 1.0),
        series: vec![
            Series {
                name: "retrained after each batch".into(),
                colour: "#1f77b4",
                points,
            },
            Series {
                name: "all data at once".into(),
                colour: "#999999",
                points: vec![(0.0, curve.all_at_once), (x_hi, curve.all_at_once)],
            },
        ],
        marker: None,
    }
}
