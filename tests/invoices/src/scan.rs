//! The same page as an office scanner gives it: 200 DPI greyscale, a little
//! skew, paper that is not quite white, ink that is not quite black, sensor
//! noise and a few specks of dust. Realistic, not adversarial.

use std::path::{Path, PathBuf};

use ab_glyph::{point, Font, FontVec, PxScale, ScaleFont};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, GrayImage, ImageEncoder, Luma};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::invoice::Invoice;
use crate::layout::{Align, Layout, Page, PAGE_HEIGHT, PAGE_WIDTH};
use crate::pdf::jpeg_pdf;
use crate::Error;

pub const DPI: f32 = 200.0;

/// The scan's size in pixels: A4 at [`DPI`].
pub fn scan_size() -> (u32, u32) {
    (
        (PAGE_WIDTH / 72.0 * DPI).round() as u32,
        (PAGE_HEIGHT / 72.0 * DPI).round() as u32,
    )
}

/// Where Debian's `fonts-dejavu-core` puts its fonts, and where other
/// distributions do.
const FONT_DIRS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
];

/// The scan's page as a greyscale PNG.
pub fn scan_png(invoice: &Invoice, layout: Layout, seed: u64) -> Result<Vec<u8>, Error> {
    png(&scan(invoice, layout, seed)?)
}

/// The scan as an image-only PDF: one JPEG per page, no text layer.
pub fn scan_pdf(invoice: &Invoice, layout: Layout, seed: u64) -> Result<Vec<u8>, Error> {
    image_pdf(invoice, &scan(invoice, layout, seed)?)
}

/// A scanned page as PNG.
pub fn png(page: &GrayImage) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(
            page.as_raw(),
            page.width(),
            page.height(),
            ExtendedColorType::L8,
        )
        .map_err(|e| Error::Encode(e.to_string()))?;
    Ok(out)
}

/// A scanned page as an image-only PDF (JPEG, quality 85, as copiers'
/// scan-to-e-mail defaults go).
pub fn image_pdf(invoice: &Invoice, page: &GrayImage) -> Result<Vec<u8>, Error> {
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 85)
        .write_image(
            page.as_raw(),
            page.width(),
            page.height(),
            ExtendedColorType::L8,
        )
        .map_err(|e| Error::Encode(e.to_string()))?;
    Ok(jpeg_pdf(invoice, jpeg, page.width(), page.height()))
}

/// The scanned page, before encoding.
pub fn scan(invoice: &Invoice, layout: Layout, seed: u64) -> Result<GrayImage, Error> {
    let fonts = Fonts::load()?;
    let ink = rasterise(&layout.page(invoice), &fonts);
    Ok(degrade(&ink, seed))
}

struct Fonts {
    regular: FontVec,
    bold: FontVec,
}

impl Fonts {
    fn load() -> Result<Self, Error> {
        Ok(Fonts {
            regular: load_font("DejaVuSans.ttf")?,
            bold: load_font("DejaVuSans-Bold.ttf")?,
        })
    }
}

fn load_font(file: &str) -> Result<FontVec, Error> {
    let path = find_font(file).ok_or_else(|| Error::FontMissing {
        file: file.into(),
        searched: FONT_DIRS.join(", "),
    })?;
    let bytes = std::fs::read(&path).map_err(|e| Error::Font {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    FontVec::try_from_vec(bytes).map_err(|e| Error::Font {
        path,
        reason: e.to_string(),
    })
}

fn find_font(file: &str) -> Option<PathBuf> {
    FONT_DIRS
        .iter()
        .map(|dir| Path::new(dir).join(file))
        .find(|path| path.is_file())
}

/// Ink coverage, 0 (paper) to 1 (ink), one value per pixel.
struct Coverage {
    width: u32,
    height: u32,
    ink: Vec<f32>,
}

impl Coverage {
    fn add(&mut self, x: i64, y: i64, amount: f32) {
        if x >= 0 && y >= 0 && (x as u32) < self.width && (y as u32) < self.height {
            let cell = &mut self.ink[y as usize * self.width as usize + x as usize];
            *cell = (*cell + amount).min(1.0);
        }
    }

    fn at(&self, x: i64, y: i64) -> f32 {
        if x >= 0 && y >= 0 && (x as u32) < self.width && (y as u32) < self.height {
            self.ink[y as usize * self.width as usize + x as usize]
        } else {
            0.0
        }
    }
}

fn rasterise(page: &Page, fonts: &Fonts) -> Coverage {
    let (width, height) = scan_size();
    let px = DPI / 72.0;
    let mut cov = Coverage {
        width,
        height,
        ink: vec![0.0; (width * height) as usize],
    };

    for rule in &page.rules {
        let darkness = 1.0 - rule.grey;
        let (x0, y0) = (rule.x * px, rule.y * px);
        // A hairline still prints at least one pixel wide.
        let (x1, y1) = (
            x0 + (rule.width * px).max(1.0),
            y0 + (rule.height * px).max(1.0),
        );
        for y in y0.round() as i64..y1.round() as i64 {
            for x in x0.round() as i64..x1.round() as i64 {
                cov.add(x, y, darkness);
            }
        }
    }

    for text in &page.texts {
        let font = if text.bold {
            &fonts.bold
        } else {
            &fonts.regular
        };
        let units_per_em = font.units_per_em().unwrap_or(2048.0);
        let scale = PxScale::from(text.size * px * font.height_unscaled() / units_per_em);
        let scaled = font.as_scaled(scale);
        let glyphs: Vec<_> = text.text.chars().map(|c| font.glyph_id(c)).collect();
        let mut advance = 0.0;
        let mut offsets = Vec::with_capacity(glyphs.len());
        for (i, id) in glyphs.iter().enumerate() {
            if i > 0 {
                advance += scaled.kern(glyphs[i - 1], *id);
            }
            offsets.push(advance);
            advance += scaled.h_advance(*id);
        }
        let start = match text.align {
            Align::Left => text.x * px,
            Align::Right => text.x * px - advance,
        };
        let baseline = text.y * px;
        for (id, offset) in glyphs.iter().zip(offsets) {
            let glyph = id.with_scale_and_position(scale, point(start + offset, baseline));
            if let Some(outline) = font.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                outline.draw(|x, y, c| {
                    cov.add(
                        bounds.min.x as i64 + x as i64,
                        bounds.min.y as i64 + y as i64,
                        c,
                    )
                });
            }
        }
    }
    cov
}

/// What the scanner adds to the ink: skew under a degree, optics that soften
/// edges, uneven paper white, noise, and dust.
fn degrade(cov: &Coverage, seed: u64) -> GrayImage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5ca4_5ca4);
    let (width, height) = (cov.width, cov.height);
    let angle = rng.gen_range(-0.8f32..0.8).to_radians();
    let (sin, cos) = angle.sin_cos();
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let shift = (rng.gen_range(-6.0f32..6.0), rng.gen_range(-6.0f32..6.0));

    let paper = rng.gen_range(236.0f32..246.0);
    let ink = rng.gen_range(25.0f32..45.0);
    // The lid lets a little light in along one side.
    let shade = rng.gen_range(0.0f32..10.0);
    let shade_from_left = rng.gen_bool(0.5);
    let noise = 4.0;

    // Sensor noise: Gaussian samples drawn once, then picked per pixel by
    // a cheap generator seeded from the same stream.
    let table: Vec<f32> = (0..4096).map(|_| gaussian(&mut rng) * noise).collect();
    let mut pick = rng.gen::<u64>() | 1;

    let mut pixels = vec![0u8; (width * height) as usize];
    for y in 0..height {
        for x in 0..width {
            // Where this scanned pixel came from on the page: the inverse
            // rotation about the centre, then the feed's shift.
            let (dx, dy) = (x as f32 - cx - shift.0, y as f32 - cy - shift.1);
            let sx = cos * dx + sin * dy + cx;
            let sy = -sin * dx + cos * dy + cy;
            let coverage = bilinear(cov, sx, sy);
            let across = x as f32 / width as f32;
            let edge = if shade_from_left {
                1.0 - across
            } else {
                across
            };
            let white = paper - shade * edge * edge;
            pick ^= pick << 13;
            pick ^= pick >> 7;
            pick ^= pick << 17;
            let value = white - coverage * (white - ink) + table[(pick >> 52) as usize];
            pixels[(y * width + x) as usize] = value.clamp(0.0, 255.0) as u8;
        }
    }
    let mut out = GrayImage::from_raw(width, height, pixels).expect("one byte per pixel");

    // Dust: a few small dark specks.
    for _ in 0..rng.gen_range(20..60) {
        let (x, y) = (rng.gen_range(0..width), rng.gen_range(0..height));
        let size = rng.gen_range(1..3);
        let darkness = rng.gen_range(60u8..160);
        for py in y..(y + size).min(height) {
            for px in x..(x + size).min(width) {
                out.put_pixel(px, py, Luma([darkness]));
            }
        }
    }
    out
}

/// The page's ink between pixel centres; resampling the skewed page this way
/// softens edges as a scanner's optics do.
fn bilinear(cov: &Coverage, x: f32, y: f32) -> f32 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as i64, y0 as i64);
    let top = cov.at(x0, y0) * (1.0 - fx) + cov.at(x0 + 1, y0) * fx;
    let bottom = cov.at(x0, y0 + 1) * (1.0 - fx) + cov.at(x0 + 1, y0 + 1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// A standard normal sample (Box–Muller).
fn gaussian<R: Rng>(rng: &mut R) -> f32 {
    let u1: f32 = rng.gen_range(f32::EPSILON..1.0);
    let u2: f32 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_font_names_the_package_to_install() {
        let Err(error) = load_font("NoSuchFont.ttf") else {
            panic!("found a font that does not exist");
        };
        let message = error.to_string();
        assert!(message.contains("fonts-dejavu-core"), "{message}");
        assert!(message.contains("NoSuchFont.ttf"), "{message}");
    }
}
