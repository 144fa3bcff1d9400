//! The AWS adapters through the real SDK clients against a moto server.
//!
//! Run by the test command as
//! `python scripts/with-moto.py -- cargo test -p handoff-aws --features moto-tests,dynamodb,sqs,sfn,secrets,http --test moto_adapters`;
//! the `moto-tests` feature keeps them out of a plain `cargo test`, and with
//! the feature on but no `MOTO_ENDPOINT` every test fails rather than skips.
//! One test binary (one link of the SDKs); each test makes its own table,
//! queue, state machine or secret, so they run in parallel.

mod cost_control;
mod documents;
mod dynamo;
mod mailbox;
mod queue;
mod secrets;
mod ses_receiving;
mod sfn;
mod store_contract;
mod support;
mod table_schema;
