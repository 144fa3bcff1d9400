//! Image attachments: the dimensions in the header, never the pixels.

use crate::{Limits, Refused};

/// Refuses an image whose header cannot be read, or that claims more pixels
/// than an OCR engine should decode: a 100000×100000 PNG is a few kilobytes
/// on the wire and 30 GB decoded, a compression bomb like any other, so it is
/// refused as [`Refused::TooLargeWhenInflated`] with the pixel limit.
pub(crate) fn check(bytes: &[u8], limits: &Limits) -> Result<(), Refused> {
    let (width, height) = dimensions(bytes)?;
    within(width, height, limits).ok_or(Refused::TooLargeWhenInflated {
        limit: usize::try_from(limits.max_image_pixels).unwrap_or(usize::MAX),
    })
}

/// The width and height an image's header gives.
pub(crate) fn dimensions(bytes: &[u8]) -> Result<(u64, u64), Refused> {
    let size = imagesize::blob_size(bytes)
        .map_err(|e| Refused::malformed(format!("the image header: {e}")))?;
    let (width, height) = (size.width as u64, size.height as u64);
    if width == 0 || height == 0 {
        return Err(Refused::malformed("the image has no pixels"));
    }
    Ok((width, height))
}

/// `Some(())` when `width` × `height` is within the pixel limit.
pub(crate) fn within(width: u64, height: u64, limits: &Limits) -> Option<()> {
    (width.checked_mul(height)? <= limits.max_image_pixels).then_some(())
}
