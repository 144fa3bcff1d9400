//! The intake loop honours the template's queue settings: a message that
//! cannot start a run comes back after the visibility timeout and moves to
//! the dead-letter queue after `maxReceiveCount` receives.

mod common;

use std::time::{Duration, Instant};

use common::*;
use handoff_local::stack::{Options, Stack};
use handoff_local::template::{Template, EMBEDDED_TEMPLATE};

/// The repository's template with a 1 s visibility timeout and two receives,
/// next to a copy of its state machine.
/// The template and the scratch dir it reads its state machine from.
fn fast_redrive_template() -> (Template, Scratch) {
    let dir = temp_dir("template");
    let asl = "infra/statemachine/workflow.asl.json";
    std::fs::create_dir_all(dir.join("infra/statemachine")).unwrap();
    std::fs::copy(repo_root().join(asl), dir.join(asl)).unwrap();
    let text = EMBEDDED_TEMPLATE
        .replace("VisibilityTimeout: 60", "VisibilityTimeout: 1")
        .replace("maxReceiveCount: 5", "maxReceiveCount: 2");
    std::fs::write(dir.join("template.yaml"), text).unwrap();
    let template = Template::load(&dir.join("template.yaml")).unwrap();
    assert_eq!(template.queue.visibility_timeout_seconds, 1);
    assert_eq!(template.queue.max_receive_count, 2);
    (template, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_cannot_start_is_dead_lettered_after_max_receives() {
    let dir = temp_dir("redrive");
    let (template, _template_dir) = fast_redrive_template();
    let mut options = Options::new(&dir, template);
    options.quiet = true;
    let stack = Stack::build(options, "http://127.0.0.1:9").unwrap();
    let now = chrono::Utc::now();
    // A run message for a run that was never stored: the starter fails it.
    stack
        .queue
        .send(
            r#"{"run_id":"run-missing","workflow":"support-triage"}"#,
            now,
        )
        .await
        .unwrap();
    stack.run_background().await.unwrap();

    let started = Instant::now();
    loop {
        let dead = stack.queue.dead_letters().await.unwrap();
        if let Some(message) = dead.first() {
            assert!(message.body.contains("run-missing"));
            assert_eq!(stack.queue.depth().await.unwrap(), 0);
            // Two receives, one visibility timeout apart.
            assert!(started.elapsed() >= Duration::from_millis(900));
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not dead-lettered after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
