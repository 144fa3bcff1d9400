//! What tests read back: the run a front-door answer names.

use handoff_core::domain::RunId;
use handoff_core::http::HttpResponse;

/// The run an accepted (or duplicate) webhook's answer names.
pub fn accepted_run_id(response: &HttpResponse) -> RunId {
    let body = response.body_json().expect("a JSON answer");
    RunId(body["run_id"].as_str().expect("a run id").into())
}
