//! A scanned page's image, as a file an OCR engine takes.
//!
//! The common shape of a scanned PDF is one image XObject per page (now and
//! then inside a form XObject). Of those the page uses, the largest is the
//! scan. A JPEG (DCTDecode) is stored as a JPEG file already; raw pixels
//! (FlateDecode or no filter) in 8-bit gray or RGB, or 1-bit gray, are
//! encoded as a PNG. Anything else (JBIG2, CCITT fax, JPEG 2000, indexed or
//! CMYK colour, masks) gives no image, and the page is `Empty`.

use std::collections::HashSet;

use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

use super::resolve;
use crate::{raster, sniff, Limits, MediaType, PageImage};

/// How deep form XObjects are followed looking for the scan.
const MAX_FORM_DEPTH: usize = 3;

pub(super) fn page_image(
    doc: &Document,
    page_id: ObjectId,
    limits: &Limits,
    budget: &mut usize,
) -> Option<PageImage> {
    let mut images = Vec::new();
    let mut seen = HashSet::new();
    let (direct, referenced) = doc.get_page_resources(page_id).ok()?;
    let resources = direct.into_iter().chain(
        referenced
            .iter()
            .filter_map(|id| doc.get_dictionary(*id).ok()),
    );
    for resources in resources {
        collect_images(doc, resources, 0, &mut seen, &mut images);
    }
    let (_, stream) = images.into_iter().max_by_key(|(pixels, _)| *pixels)?;
    convert(doc, stream, limits, budget)
}

/// The image XObjects in `resources` and in the forms it names, with their
/// pixel counts.
fn collect_images<'d>(
    doc: &'d Document,
    resources: &'d Dictionary,
    depth: usize,
    seen: &mut HashSet<ObjectId>,
    images: &mut Vec<(u64, &'d Stream)>,
) {
    let Some(Object::Dictionary(xobjects)) =
        resources.get(b"XObject").ok().and_then(|x| resolve(doc, x))
    else {
        return;
    };
    for (_, xobject) in xobjects.iter() {
        let Object::Reference(id) = xobject else {
            continue;
        };
        if !seen.insert(*id) {
            continue;
        }
        let Ok(stream) = doc.get_object(*id).and_then(Object::as_stream) else {
            continue;
        };
        match stream.dict.get(b"Subtype").and_then(Object::as_name) {
            Ok(b"Image") => {
                if let Some((width, height)) = size(&stream.dict) {
                    images.push((width.saturating_mul(height), stream));
                }
            }
            Ok(b"Form") if depth < MAX_FORM_DEPTH => {
                if let Some(Object::Dictionary(inner)) = stream
                    .dict
                    .get(b"Resources")
                    .ok()
                    .and_then(|r| resolve(doc, r))
                {
                    collect_images(doc, inner, depth + 1, seen, images);
                }
            }
            _ => {}
        }
    }
}

fn size(dict: &Dictionary) -> Option<(u64, u64)> {
    let dimension = |key: &[u8]| {
        dict.get(key)
            .and_then(Object::as_i64)
            .ok()
            .and_then(|n| u64::try_from(n).ok())
            .filter(|n| *n > 0)
    };
    Some((dimension(b"Width")?, dimension(b"Height")?))
}

fn convert(
    doc: &Document,
    stream: &Stream,
    limits: &Limits,
    budget: &mut usize,
) -> Option<PageImage> {
    let (width, height) = size(&stream.dict)?;
    raster::within(width, height, limits)?;
    let filters = stream.filters().unwrap_or_default();
    match filters.as_slice() {
        [b"DCTDecode"] => jpeg(stream, limits, budget),
        [] | [b"FlateDecode"] => pixels(doc, stream, width, height, budget),
        _ => None,
    }
}

/// A DCTDecode stream is a JPEG file; it is handed on if its own header
/// agrees that it is one, within the pixel limit. Its copy is charged to the
/// budget: fifty pages can show the same 9 MB scan.
fn jpeg(stream: &Stream, limits: &Limits, budget: &mut usize) -> Option<PageImage> {
    let bytes = &stream.content;
    *budget = budget.checked_sub(bytes.len())?;
    if sniff(bytes) != Some(MediaType::Jpeg) {
        return None;
    }
    let (width, height) = raster::dimensions(bytes).ok()?;
    raster::within(width, height, limits)?;
    Some(PageImage {
        media_type: MediaType::Jpeg,
        bytes: bytes.clone(),
    })
}

/// Raw samples, encoded as a PNG with the same pixels.
fn pixels(
    doc: &Document,
    stream: &Stream,
    width: u64,
    height: u64,
    budget: &mut usize,
) -> Option<PageImage> {
    let dict = &stream.dict;
    if dict
        .get(b"ImageMask")
        .and_then(Object::as_bool)
        .unwrap_or(false)
    {
        return None;
    }
    let bits = dict
        .get(b"BitsPerComponent")
        .and_then(Object::as_i64)
        .ok()?;
    let (color, depth, channels) = match (components(doc, stream)?, bits) {
        (1, 8) => (png::ColorType::Grayscale, png::BitDepth::Eight, 1),
        (3, 8) => (png::ColorType::Rgb, png::BitDepth::Eight, 3),
        (1, 1) => (png::ColorType::Grayscale, png::BitDepth::One, 1),
        _ => return None,
    };
    let row = usize::try_from((width * channels * bits as u64).div_ceil(8)).ok()?;
    let expected = row.checked_mul(usize::try_from(height).ok()?)?;
    if expected > *budget {
        return None;
    }
    let mut samples = stream.decompressed_content_with_limit(expected).ok()?;
    *budget -= samples.len();
    if samples.len() != expected {
        return None;
    }
    if inverted(dict) {
        samples.iter_mut().for_each(|sample| *sample = !*sample);
    }

    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(
        &mut bytes,
        u32::try_from(width).ok()?,
        u32::try_from(height).ok()?,
    );
    encoder.set_color(color);
    encoder.set_depth(depth);
    // Fast: the OCR engine decodes it once; a Lambda should not spend
    // seconds squeezing a 25-megapixel scan.
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().ok()?;
    writer.write_image_data(&samples).ok()?;
    writer.finish().ok()?;
    Some(PageImage {
        media_type: MediaType::Png,
        bytes,
    })
}

/// Colour components per pixel, for the colour spaces a PNG has: DeviceGray,
/// DeviceRGB, their calibrated forms, and ICC-based ones by their /N.
fn components(doc: &Document, stream: &Stream) -> Option<u64> {
    let space = resolve(doc, stream.dict.get(b"ColorSpace").ok()?)?;
    let (family, parameters) = match space {
        Object::Name(name) => (name.as_slice(), None),
        Object::Array(array) => match array.as_slice() {
            [Object::Name(name)] => (name.as_slice(), None),
            [Object::Name(name), parameters] => (name.as_slice(), resolve(doc, parameters)),
            _ => return None,
        },
        _ => return None,
    };
    match family {
        b"DeviceGray" | b"G" | b"CalGray" => Some(1),
        b"DeviceRGB" | b"RGB" | b"CalRGB" => Some(3),
        b"ICCBased" => match parameters? {
            Object::Stream(profile) => profile
                .dict
                .get(b"N")
                .and_then(Object::as_i64)
                .ok()
                .and_then(|n| u64::try_from(n).ok()),
            _ => None,
        },
        _ => None,
    }
}

/// `/Decode [1 0]`: samples count from white, not black.
fn inverted(dict: &Dictionary) -> bool {
    match dict.get(b"Decode") {
        Ok(Object::Array(decode)) => {
            matches!(decode.as_slice(), [first, ..] if first.as_f32().is_ok_and(|v| v > 0.5))
        }
        _ => false,
    }
}
