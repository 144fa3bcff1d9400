//! AWS adapters for the ports of `handoff-core`, and the glue the Lambda
//! binaries share. Each adapter sits behind a feature of the same name so a
//! function links only the SDK clients it calls.
//!
//! A stage function's `main.rs`:
//!
//! ```ignore
//! use handoff_aws::lambda::{aws_config, env, init_tracing, StageFailure};
//! use lambda_runtime::{service_fn, LambdaEvent};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     init_tracing();
//!     let config = aws_config().await;
//!     let store = handoff_aws::dynamo::DynamoStore::from_config(&config, env("HANDOFF_TABLE")?);
//!     let stage = /* a handoff_core::stages struct over &store */;
//!     lambda_runtime::run(service_fn(|event: LambdaEvent<RunRef>| async {
//!         stage.run(&event.payload).await.map_err(StageFailure::from)
//!     }))
//!     .await
//! }
//! ```
//!
//! An HTTP function maps with [`lambda::http_request`] and
//! [`lambda::http_response`] around the core route handler.

pub mod lambda;
pub mod mail;

#[cfg(feature = "bedrock")]
pub mod bedrock;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
#[cfg(feature = "http")]
pub mod http_fetch;
#[cfg(feature = "http")]
pub mod http_sink;
#[cfg(feature = "http")]
pub mod outbound;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "secrets")]
pub mod secrets;
#[cfg(feature = "ses")]
pub mod ses;
#[cfg(feature = "sfn")]
pub mod sfn;
#[cfg(feature = "sqs")]
pub mod sqs;
#[cfg(feature = "textract")]
pub mod textract;
