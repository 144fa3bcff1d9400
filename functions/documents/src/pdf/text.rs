//! A page's text layer, in the order the content stream draws it.
//!
//! `lopdf`'s own `extract_text` runs the words of a line together when the
//! producer positions each one with `Td` (as most invoice generators do) and
//! never ends a line on a move. This walks the same operators, with the fonts'
//! encodings `lopdf` resolves, and keeps just enough of the text matrix to
//! tell a new line (the baseline moved) and a gap between words (the pen moved
//! further than the text drawn since could have taken it). There are no font
//! metrics here, so a glyph is taken as half an em wide.

use std::collections::BTreeMap;

use lopdf::{content::Content, Dictionary, Document, Encoding, Object, ObjectId};

/// The width of an average Latin glyph, in ems, for spotting gaps.
const GLYPH_EM: f32 = 0.5;
/// A move this much further than the glyphs drawn is a space between words.
const GAP_EM: f32 = 0.2;
/// A `TJ` adjustment beyond this (thousandths of an em) is a space.
const TJ_SPACE: f32 = 200.0;
/// The largest ToUnicode CMap read for one font.
const MAX_CMAP_BYTES: usize = 4 * 1024 * 1024;

pub(super) fn page_text(
    doc: &Document,
    page_id: ObjectId,
    content: &[u8],
    budget: &mut usize,
) -> String {
    let fonts = doc.get_page_fonts(page_id).unwrap_or_default();
    // Resolved when a `Tf` first selects them: a page may name thousands of
    // fonts, each with a CMap to decode, and use two.
    let mut encodings: BTreeMap<&[u8], Option<Encoding>> = BTreeMap::new();

    let mut pen = Pen::default();
    let mut encoding = None;
    // One operation at a time: a content stream decoded whole can take
    // twenty times its size in memory.
    for operation in Content::decode_iter(content) {
        let Ok(operation) = operation else { break };
        let operands = operation.operands.as_slice();
        match (operation.operator.as_str(), operands) {
            ("BT", _) => pen.begin(),
            ("Tf", [font, size, ..]) => {
                encoding = font.as_name().ok().and_then(|name| {
                    let (name, font) = fonts.get_key_value(name)?;
                    encodings
                        .entry(name.as_slice())
                        .or_insert_with(|| font_encoding(doc, font, budget))
                        .as_ref()
                });
                pen.font_size = number(size).unwrap_or(pen.font_size);
            }
            ("TL", [leading]) => pen.leading = number(leading).unwrap_or(pen.leading),
            ("Td", [tx, ty]) => pen.move_by(number(tx), number(ty)),
            ("TD", [tx, ty]) => {
                pen.leading = -number(ty).unwrap_or(0.0);
                pen.move_by(number(tx), number(ty));
            }
            ("Tm", [a, _, _, d, e, f]) => {
                pen.set_matrix([a, d, e, f].map(|n| number(n).unwrap_or(0.0)))
            }
            ("T*", _) => pen.next_line(),
            ("Tj", [text]) => pen.show(encoding, text),
            ("TJ", [Object::Array(parts)]) => {
                for part in parts {
                    match part {
                        Object::String(..) => pen.show(encoding, part),
                        adjustment => {
                            if number(adjustment).is_some_and(|n| n < -TJ_SPACE) {
                                pen.space();
                            }
                        }
                    }
                }
            }
            ("'", [text]) | ("\"", [_, _, text]) => {
                pen.next_line();
                pen.show(encoding, text);
            }
            _ => {}
        }
    }
    pen.text
}

/// The font's encoding, its CMap streams charged to `budget`: `lopdf`
/// bounds each decoding, this bounds them all.
fn font_encoding<'d>(
    doc: &'d Document,
    font: &'d Dictionary,
    budget: &mut usize,
) -> Option<Encoding<'d>> {
    let limit = (*budget).min(MAX_CMAP_BYTES);
    for key in [&b"ToUnicode"[..], b"Encoding"] {
        if let Ok(stream) = font.get_deref(key, doc).and_then(Object::as_stream) {
            let decoded = stream.decompressed_content_with_limit(limit).ok()?;
            *budget = budget.checked_sub(decoded.len())?;
        }
    }
    font.get_font_encoding_with_limit(doc, limit).ok()
}

fn number(object: &Object) -> Option<f32> {
    match object {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r),
        _ => None,
    }
    .filter(|n| n.is_finite())
}

/// Where the next glyph goes, as far as telling lines and words apart needs.
struct Pen {
    text: String,
    font_size: f32,
    leading: f32,
    /// The text matrix's scale (a, d) and the start of the current line
    /// (e, f), in user space; rotation and skew are ignored.
    scale: (f32, f32),
    line_start: (f32, f32),
    /// Characters drawn since the line start, for the pen's estimated x.
    drawn: usize,
    /// The baseline of the last text drawn, and where the pen then was.
    last: Option<(f32, f32)>,
}

impl Default for Pen {
    fn default() -> Self {
        Self {
            text: String::new(),
            font_size: 1.0,
            leading: 0.0,
            scale: (1.0, 1.0),
            line_start: (0.0, 0.0),
            drawn: 0,
            last: None,
        }
    }
}

impl Pen {
    fn begin(&mut self) {
        self.scale = (1.0, 1.0);
        self.line_start = (0.0, 0.0);
        self.drawn = 0;
    }

    fn move_by(&mut self, tx: Option<f32>, ty: Option<f32>) {
        let (x, y) = self.line_start;
        self.line_start = (
            x + tx.unwrap_or(0.0) * self.scale.0,
            y + ty.unwrap_or(0.0) * self.scale.1,
        );
        self.drawn = 0;
    }

    fn set_matrix(&mut self, [a, d, e, f]: [f32; 4]) {
        self.scale = (a, d);
        self.line_start = (e, f);
        self.drawn = 0;
    }

    fn next_line(&mut self) {
        self.move_by(None, Some(-self.leading));
        self.line_break();
    }

    fn em(&self) -> (f32, f32) {
        (
            (self.font_size * self.scale.0).abs().max(f32::EPSILON),
            (self.font_size * self.scale.1).abs().max(f32::EPSILON),
        )
    }

    fn pen_x(&self) -> f32 {
        self.line_start.0 + self.drawn as f32 * GLYPH_EM * self.em().0
    }

    fn show(&mut self, encoding: Option<&Encoding>, text: &Object) {
        let (Some(encoding), Object::String(bytes, _)) = (encoding, text) else {
            return;
        };
        let Ok(decoded) = encoding.bytes_to_string(bytes) else {
            return;
        };
        if decoded.is_empty() {
            return;
        }
        let (em_x, em_y) = self.em();
        let y = self.line_start.1;
        let x = self.pen_x();
        if let Some((last_y, last_x)) = self.last {
            if (y - last_y).abs() > em_y / 2.0 {
                self.line_break();
            } else if (x - last_x).abs() > GAP_EM * em_x {
                self.space();
            }
        }
        self.text.push_str(&decoded);
        self.drawn += decoded.chars().count();
        self.last = Some((y, self.pen_x()));
    }

    fn space(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with(char::is_whitespace) {
            self.text.push(' ');
        }
    }

    fn line_break(&mut self) {
        while self.text.ends_with(' ') {
            self.text.pop();
        }
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
        }
    }
}
