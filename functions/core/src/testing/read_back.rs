//! What tests read back: the run a front-door answer names, and the stored
//! decision of a run.

use handoff_core::domain::{Decision, RunId};
use handoff_core::http::HttpResponse;
use handoff_core::ports::{RunData, Slot};

use super::Harness;

/// The run an accepted (or duplicate) webhook's answer names.
pub fn accepted_run_id(response: &HttpResponse) -> RunId {
    let body = response.body_json().expect("a JSON answer");
    RunId(body["run_id"].as_str().expect("a run id").into())
}

impl Harness {
    /// The decide step's stored decision of a run that has been through it.
    pub async fn stored_decision(&self, run: &RunId) -> Decision {
        let slot = self.store.get_slot(run, &Slot::Decision).await.unwrap();
        let slot = slot.expect("the decide step has run");
        serde_json::from_value(slot).expect("a stored decision")
    }
}
