//! Pictures of what a model does: the attention heatmap of one translation
//! (source tokens across, target tokens down; darker = more attention, each
//! cell labelled with its weight) and the plots of `attend compare` (grouped
//! bars, curves), drawn with plotters into PNGs. Text uses the bundled DejaVu Sans font, so no
//! system fonts are needed.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::error::{Result, TrainError};

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn font() {
    REGISTER.call_once(|| {
        // The font is bundled and valid; a failure would only lose the labels.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::Invalid(format!("{}: cannot draw the plot: {e}", path.display()))
}

/// Draws `weights[target][source]` as a heatmap PNG at `path`.
pub fn attention_heatmap(path: &Path, source: &[String], target: &[String], weights: &[Vec<f32>], title: &str) -> Result<()> {
    font();
    let (cols, rows) = (source.len().max(1), target.len().max(1));
    let cell = 44u32;
    let (left, top) = (150u32, 150u32);
    let width = left + cell * cols as u32 + 30;
    let height = top + cell * rows as u32 + 30;
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let text = |size: f64| TextStyle::from(("sans-serif", size).into_font()).color(&BLACK);
    root.draw(&Text::new(title.to_string(), (10, 10), text(16.0))).map_err(|e| plot_err(path, e))?;
    for (r, row) in weights.iter().enumerate().take(rows) {
        for (c, &w) in row.iter().enumerate().take(cols) {
            let x = (left + c as u32 * cell) as i32;
            let y = (top + r as u32 * cell) as i32;
            // White (0) to dark blue (1).
            let w = w.clamp(0.0, 1.0);
            let colour = RGBColor((255.0 * (1.0 - w)) as u8, (255.0 * (1.0 - 0.85 * w)) as u8, (255.0 - 115.0 * w) as u8);
            root.draw(&Rectangle::new([(x, y), (x + cell as i32, y + cell as i32)], colour.filled()))
                .map_err(|e| plot_err(path, e))?;
            let ink = if w > 0.5 { WHITE } else { BLACK };
            let value = TextStyle::from(("sans-serif", 11.0).into_font()).color(&ink);
            root.draw(&Text::new(format!("{w:.2}"), (x + 9, y + cell as i32 / 2 - 6), value))
                .map_err(|e| plot_err(path, e))?;
        }
    }
    let label = |t: &str| if t.chars().count() > 14 { format!("{}…", t.chars().take(13).collect::<String>()) } else { t.to_string() };
    for (c, tok) in source.iter().enumerate() {
        let x = (left + c as u32 * cell + cell / 2 - 6) as i32;
        let style = text(15.0).transform(FontTransform::Rotate270);
        root.draw(&Text::new(label(tok), (x, (top - 8) as i32), style)).map_err(|e| plot_err(path, e))?;
    }
    for (r, tok) in target.iter().enumerate() {
        let y = (top + r as u32 * cell + cell / 2 - 8) as i32;
        root.draw(&Text::new(label(tok), (10, y), text(15.0))).map_err(|e| plot_err(path, e))?;
    }
    root.present().map_err(|e| plot_err(path, e))?;
    Ok(())
}

/// Colours of the series in comparison plots, one per model.
const SERIES: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Grouped bars: one group per category (e.g. a source-length bucket), one bar
/// per series (e.g. a model) with its value on top.
pub fn grouped_bars(
    path: &Path,
    title: &str,
    y_label: &str,
    categories: &[String],
    series: &[(String, Vec<f64>)],
) -> Result<()> {
    font();
    let root = BitMapBackend::new(path, (1000, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let top = series.iter().flat_map(|(_, v)| v.iter().copied()).fold(0f64, f64::max).max(1.0) * 1.15;
    let groups = categories.len().max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..groups as f64, 0f64..top)
        .map_err(|e| plot_err(path, e))?;
    let labels = categories.to_vec();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - i as f64 - 0.5).abs() < 0.01 {
                labels.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(y_label)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| plot_err(path, e))?;
    let n = series.len().max(1) as f64;
    let width = 0.8 / n;
    for (s, (name, values)) in series.iter().enumerate() {
        let colour = SERIES[s % SERIES.len()];
        let bars = values.iter().enumerate().map(|(g, &v)| {
            let x0 = g as f64 + 0.1 + s as f64 * width;
            Rectangle::new([(x0, 0.0), (x0 + width * 0.92, v)], colour.filled())
        });
        chart
            .draw_series(bars)
            .map_err(|e| plot_err(path, e))?
            .label(name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled()));
        let values_text = values.iter().enumerate().map(|(g, &v)| {
            let x = g as f64 + 0.1 + s as f64 * width;
            Text::new(format!("{v:.1}"), (x, v + top * 0.01), ("sans-serif", 11).into_font())
        });
        chart.draw_series(values_text).map_err(|e| plot_err(path, e))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| plot_err(path, e))?;
    root.present().map_err(|e| plot_err(path, e))?;
    Ok(())
}

/// Lines through `(x, y)` points, one per series, with markers at the points.
pub fn line_curves(path: &Path, title: &str, x_label: &str, y_label: &str, series: &[(String, Vec<(f64, f64)>)]) -> Result<()> {
    font();
    let root = BitMapBackend::new(path, (1000, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let points = || series.iter().flat_map(|(_, p)| p.iter().copied());
    let x_max = points().map(|p| p.0).fold(0f64, f64::max).max(1.0) * 1.02;
    let y_min = points().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let y_max = points().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let (y_min, y_max) = if y_min.is_finite() && y_max > y_min { (y_min, y_max) } else { (0.0, 1.0) };
    let pad = (y_max - y_min) * 0.05;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, (y_min - pad)..(y_max + pad))
        .map_err(|e| plot_err(path, e))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| plot_err(path, e))?;
    for (s, (name, pts)) in series.iter().enumerate() {
        let colour = SERIES[s % SERIES.len()];
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), colour.stroke_width(2)))
            .map_err(|e| plot_err(path, e))?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))
            .map_err(|e| plot_err(path, e))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| plot_err(path, e))?;
    root.present().map_err(|e| plot_err(path, e))?;
    Ok(())
}
