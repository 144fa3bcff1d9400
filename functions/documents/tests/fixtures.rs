//! Attachments made on the spot: PDFs written with lopdf, images encoded
//! with the image crate, and the hand-written bytes lopdf would not write.

use std::io::{Cursor, Write};

use flate2::{write::ZlibEncoder, Compress, Compression, FlushCompress};
use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, ObjectId, Stream};

/// One page's text lines, each drawn with its own `Td` the way invoice
/// generators write them; a line given as several parts is drawn part by
/// part, each moved right of the last.
pub type TextPage<'a> = &'a [&'a [&'a str]];

pub const INVOICE: &[TextPage] = &[
    &[
        &["INVOICE"],
        &["Invoice number: INV-2024-0042"],
        &["Bill to: Acme Corporation"],
        &["Description", "Qty", "Amount"],
        &["Consulting services", "10", "1,000.00"],
    ],
    &[
        &["Total due:", "1,234.56 EUR"],
        &["Payment terms: 30 days net"],
    ],
];

/// What a page of a test PDF holds.
pub enum Fixture<'a> {
    Text(TextPage<'a>),
    /// A JPEG image XObject (DCTDecode) covering the page.
    Jpeg(&'a [u8], u32, u32),
    /// Raw 8-bit gray samples, FlateDecode.
    Gray(&'a [u8], u32, u32),
}

/// A PDF of these pages, its streams compressed as producers write them.
pub fn pdf(pages: &[Fixture]) -> Vec<u8> {
    let mut doc = document(pages);
    doc.compress();
    save(&mut doc)
}

pub fn text_pdf(pages: &[TextPage]) -> Vec<u8> {
    pdf(&pages
        .iter()
        .map(|page| Fixture::Text(page))
        .collect::<Vec<_>>())
}

pub fn document(pages: &[Fixture]) -> Document {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let mut kids = Vec::new();
    for page in pages {
        let (operations, resources) = match page {
            Fixture::Text(lines) => (
                text_operations(lines),
                dictionary! { "Font" => dictionary! { "F1" => font_id } },
            ),
            Fixture::Jpeg(jpeg, width, height) => {
                let image = image_xobject(
                    &mut doc,
                    "DeviceRGB",
                    *width,
                    *height,
                    "DCTDecode",
                    jpeg.to_vec(),
                );
                (
                    draw_image(*width, *height),
                    dictionary! { "XObject" => dictionary! { "Im0" => image } },
                )
            }
            Fixture::Gray(samples, width, height) => {
                let image = image_xobject(
                    &mut doc,
                    "DeviceGray",
                    *width,
                    *height,
                    "FlateDecode",
                    zlib(samples),
                );
                (
                    draw_image(*width, *height),
                    dictionary! { "XObject" => dictionary! { "Im0" => image } },
                )
            }
        };
        let content = Content { operations }.encode().unwrap();
        let content_id = doc.add_object(Stream::new(dictionary! {}, content));
        kids.push(Object::from(doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
            "Resources" => resources,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        })));
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    doc
}

pub fn save(doc: &mut Document) -> Vec<u8> {
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    bytes
}

fn text_operations(lines: &[&[&str]]) -> Vec<Operation> {
    let mut operations = vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec!["F1".into(), 11.into()]),
        Operation::new("Td", vec![72.into(), 770.into()]),
    ];
    for (index, parts) in lines.iter().enumerate() {
        if index > 0 {
            operations.push(Operation::new("Td", vec![0.into(), (-16).into()]));
        }
        let mut moved = 0;
        for (part_index, part) in parts.iter().enumerate() {
            if part_index > 0 {
                operations.push(Operation::new("Td", vec![160.into(), 0.into()]));
                moved += 160;
            }
            operations.push(Operation::new("Tj", vec![Object::string_literal(*part)]));
        }
        if moved > 0 {
            operations.push(Operation::new("Td", vec![(-moved).into(), 0.into()]));
        }
    }
    operations.push(Operation::new("ET", vec![]));
    operations
}

fn image_xobject(
    doc: &mut Document,
    space: &str,
    width: u32,
    height: u32,
    filter: &str,
    data: Vec<u8>,
) -> ObjectId {
    doc.add_object(Stream::new(
        dictionary! {
            "Type" => "XObject",
            "Subtype" => "Image",
            "Width" => width as i64,
            "Height" => height as i64,
            "ColorSpace" => space,
            "BitsPerComponent" => 8,
            "Filter" => filter,
        },
        data,
    ))
}

fn draw_image(width: u32, height: u32) -> Vec<Operation> {
    vec![
        Operation::new("q", vec![]),
        Operation::new(
            "cm",
            vec![
                (width as i64).into(),
                0.into(),
                0.into(),
                (height as i64).into(),
                0.into(),
                0.into(),
            ],
        ),
        Operation::new("Do", vec!["Im0".into()]),
        Operation::new("Q", vec![]),
    ]
}

pub fn zlib(data: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A zlib stream of `size` zero bytes (a whole number of MiB), built
/// without ever holding them: one fully flushed MiB of deflate, repeated,
/// then the end of the stream and its checksum.
pub fn zlib_bomb(size: usize) -> Vec<u8> {
    const MIB: usize = 1 << 20;
    assert_eq!(size % MIB, 0);
    let mut compress = Compress::new(Compression::best(), false);
    let mut segment = Vec::with_capacity(4096);
    compress
        .compress_vec(&vec![0; MIB], &mut segment, FlushCompress::Full)
        .unwrap();
    assert!(
        compress.total_in() as usize == MIB,
        "the segment holds the whole MiB"
    );
    let mut bomb = vec![0x78, 0xda];
    for _ in 0..size / MIB {
        bomb.extend_from_slice(&segment);
    }
    // A final, empty stored block; then Adler-32 of `size` zeros.
    bomb.extend_from_slice(&[0x01, 0x00, 0x00, 0xff, 0xff]);
    let adler = ((size % 65521) as u32) << 16 | 1;
    bomb.extend_from_slice(&adler.to_be_bytes());
    bomb
}

pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let pixels = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 4) as u8, 128])
    });
    encode(
        image::DynamicImage::ImageRgb8(pixels),
        image::ImageFormat::Jpeg,
    )
}

pub fn png(width: u32, height: u32) -> Vec<u8> {
    encode(
        image::DynamicImage::ImageLuma8(gray(width, height)),
        image::ImageFormat::Png,
    )
}

pub fn tiff(width: u32, height: u32) -> Vec<u8> {
    encode(
        image::DynamicImage::ImageLuma8(gray(width, height)),
        image::ImageFormat::Tiff,
    )
}

/// A gradient, so a lost row or a swapped axis shows.
pub fn gray(width: u32, height: u32) -> image::GrayImage {
    image::GrayImage::from_fn(width, height, |x, y| image::Luma([(x * 3 + y * 5) as u8]))
}

fn encode(image: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

/// A PNG whose header claims `width` × `height` and has no pixels.
pub fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut crc = flate2::Crc::new();
    crc.update(&ihdr);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc.sum().to_be_bytes());
    png
}
