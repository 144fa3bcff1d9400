//! One test binary; each module is a family of behaviour. Inputs are built
//! here, never checked in: PDFs with lopdf, images with the image crate.

mod allocations;
mod bombs;
mod fixtures;
mod floods;
mod intake;
mod malformed;
mod reading;
mod rendering;
mod sniffing;
