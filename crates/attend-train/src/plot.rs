//! Pictures of what a model does: the attention heatmap of one translation
//! (source tokens across, target tokens down; darker = more attention, each
//! cell labelled with its weight), drawn
//! with plotters into a PNG. Text uses the bundled DejaVu Sans font, so no
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
