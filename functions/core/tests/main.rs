//! The crate's integration tests, one module per file, built as one test
//! binary: one link instead of one per file. One file's tests:
//! `cargo test -p handoff-core --test core accuracy_review::`.

mod support;
mod trigger_support;

mod accuracy_review;
mod approval_documents;
mod approval_flow;
mod attachments;
mod autonomy_simulation;
mod blind_audit;
mod dashboard;
mod document_pages;
mod documents;
mod duplicate_after_extraction;
mod email_intake;
mod intake_sweep;
mod linked_documents;
mod metrics;
mod outbound;
mod pipeline;
mod read_api;
mod reason_tasks;
mod rules;
mod training;
mod trigger_bad_requests;
mod trigger_concurrency;
mod trigger_known_answers;
mod trigger_replay;
mod trigger_signed_timestamp;
