use handoff_states::{TaskHandler, TaskReply, TaskRequest};

/// Task stand-in for `handoff asl run`: every task returns its payload.
pub struct EchoTasks;

impl TaskHandler for EchoTasks {
    fn invoke(&mut self, request: &TaskRequest) -> TaskReply {
        TaskReply::Succeeded(request.payload.clone())
    }
}
