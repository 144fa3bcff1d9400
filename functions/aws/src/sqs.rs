//! [`RunQueue`] on SQS: the run message as the JSON body, with `workflow`
//! and `run_id` as message attributes for filtering and redrive triage.

use async_trait::async_trait;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::MessageAttributeValue;
use handoff_core::domain::RunMessage;
use handoff_core::ports::{QueueError, RunQueue};

pub struct SqsQueue {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self::new(aws_sdk_sqs::Client::new(config), queue_url)
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| QueueError(e.to_string()))
}

#[async_trait]
impl RunQueue for SqsQueue {
    async fn enqueue(&self, message: &RunMessage) -> Result<(), QueueError> {
        let body = serde_json::to_string(message).map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_attributes("workflow", string_attribute(&message.workflow)?)
            .message_attributes("run_id", string_attribute(message.run_id.as_str())?)
            .send()
            .await
            .map_err(|e| QueueError(DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }
}
