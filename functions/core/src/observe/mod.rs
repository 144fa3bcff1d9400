//! What operators see: metric documents in CloudWatch embedded metric
//! format and the redaction of sensitive fields before anything is logged.

pub mod autonomy;
pub mod emf;
pub mod redact;
pub mod review;
pub mod stats;
