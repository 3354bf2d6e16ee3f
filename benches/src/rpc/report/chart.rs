//! The chart: three panels of horizontal bars (unary RTT, calls/s with 32
//! in flight, 64 MiB echo GB/s), one bar per system and placement, on log
//! scales so ratios read as distances.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Report;
use crate::rpc::run::short;
use crate::rpc::{Metric, Placement, Result, SystemId};

const WIDTH: u32 = 1000;
const PANEL_HEIGHT: u32 = 420;
const HEADER: u32 = 56;
/// One colour per placement, in [`Placement::ALL`] order.
const COLORS: [RGBColor; 3] = [
    RGBColor(44, 160, 44),
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
];

const PANELS: &[(Metric, &str)] = &[
    (
        Metric::UNARY,
        "Unary round trip, 64 B, median us (lower is better)",
    ),
    (
        Metric::IN_FLIGHT,
        "Calls/s with 32 in flight on one connection (higher is better)",
    ),
    (Metric::ECHO_64MIB, "64 MiB echo, GB/s (higher is better)"),
];

/// Draws the chart as SVG at `path`.
pub(super) fn draw(report: &Report<'_>, path: &Path) -> Result<()> {
    let height = HEADER + PANEL_HEIGHT * PANELS.len() as u32;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (header, body) = root.split_vertically(HEADER);
    header.draw(&Text::new(
        format!(
            "Prism beside raw sockets, tokio channels, tarpc and tonic ({} mode)",
            report.plan.mode
        ),
        (10, 8),
        ("sans-serif", 18).into_font(),
    ))?;
    header.draw(&Text::new(
        format!(
            "{} on {}.  Green: both ends on one thread; blue: two threads on one CPU; \
             orange: ends on different CPUs.",
            report.date,
            report.machine.summary()
        ),
        (10, 32),
        ("sans-serif", 12).into_font(),
    ))?;
    for (area, &(metric, title)) in body.split_evenly((PANELS.len(), 1)).iter().zip(PANELS) {
        panel(area, report, metric, title)?;
    }
    root.present()?;
    Ok(())
}

fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    report: &Report<'_>,
    metric: Metric,
    title: &str,
) -> Result<()> {
    let rows: Vec<(SystemId, Vec<Option<f64>>)> = report
        .systems
        .iter()
        .map(|&id| {
            let values = Placement::ALL
                .iter()
                .map(|&p| report.get(id, metric, p).map(|s| s.median))
                .collect();
            (id, values)
        })
        .filter(|(_, values): &(SystemId, Vec<Option<f64>>)| values.iter().any(Option::is_some))
        .collect();
    let values: Vec<f64> = rows
        .iter()
        .flat_map(|(_, values)| values.iter().flatten().copied())
        .filter(|v| *v > 0.0)
        .collect();
    if values.is_empty() {
        return Ok(());
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min) / 3.0;
    let hi = values.iter().copied().fold(0.0, f64::max) * 30.0;
    let n = rows.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(24)
        .y_label_area_size(8)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(8)
        .x_label_formatter(&|x| short(*x))
        .draw()?;
    let label = ("sans-serif", 11)
        .into_font()
        .into_text_style(area)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let bar = 0.84 / Placement::ALL.len() as f64;
    for (i, (id, values)) in rows.iter().enumerate() {
        // The first system on top.
        let top = n - i as f64 - 0.08;
        for (k, (value, color)) in values.iter().zip(COLORS).enumerate() {
            let Some(v) = *value else { continue };
            let (y0, y1) = (top - bar * k as f64, top - bar * (k + 1) as f64);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(lo, y0), (v, y1)],
                color.filled(),
            )))?;
            let text = if k == 1 {
                format!("{}  {id}", short(v))
            } else {
                short(v)
            };
            chart.draw_series(std::iter::once(Text::new(
                text,
                (v * 1.06, (y0 + y1) / 2.0),
                label.clone(),
            )))?;
        }
    }
    Ok(())
}
