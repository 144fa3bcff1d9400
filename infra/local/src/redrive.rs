//! `handoff redrive RUN_ID`: the core redrive (a new execution from the step
//! that failed, see `handoff_core::stages::redrive`) over the local host.

use std::sync::Arc;

use handoff_core::domain::RunId;
use handoff_core::stages::redrive::{Redrive, Redriven};

use crate::runtime::HostExecutions;
use crate::stack::Stack;

pub async fn redrive(stack: &Stack, run_id: &RunId) -> anyhow::Result<Redriven> {
    let redrive = Redrive {
        catalog: stack.catalog.clone(),
        store: stack.store.clone(),
        executions: Arc::new(HostExecutions(stack.host.clone())),
        clock: stack.clock.clone(),
    };
    Ok(redrive.run(run_id).await?)
}
