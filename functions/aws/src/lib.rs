//! AWS adapters for the ports of `handoff-core`, and the glue the Lambda
//! binaries share. Each adapter sits behind a feature of the same name so a
//! function links only the SDK clients it calls.

pub mod lambda;
pub mod mail;

#[cfg(feature = "dynamodb")]
pub mod dynamo;
#[cfg(feature = "http")]
pub mod http_sink;
#[cfg(feature = "secrets")]
pub mod secrets;
#[cfg(feature = "ses")]
pub mod ses;
#[cfg(feature = "sfn")]
pub mod sfn;
#[cfg(feature = "sqs")]
pub mod sqs;
