//! Which Retrier or Catcher handles an error, and how long to back off.
use rand::Rng;

use crate::definition::Retrier;
use crate::error::names;

/// ErrorEquals matching: `States.ALL` and `States.TaskFailed` are wildcards, but neither
/// catches the terminal `States.Runtime` / `States.DataLimitExceeded`, and `States.TaskFailed`
/// leaves timeouts alone.
pub fn matches(error_equals: &[String], error: &str) -> bool {
    error_equals.iter().any(|e| match e.as_str() {
        names::ALL => !is_terminal(error),
        names::TASK_FAILED => !is_terminal(error) && error != names::TIMEOUT,
        other => other == error,
    })
}

fn is_terminal(error: &str) -> bool {
    error == names::RUNTIME || error == names::DATA_LIMIT_EXCEEDED
}

/// Delay before retry number `attempt` (0-based) of `retrier`, in milliseconds.
pub fn delay_millis(retrier: &Retrier, attempt: u32) -> i64 {
    let interval = retrier.interval_seconds.unwrap_or(1.0);
    let rate = retrier.backoff_rate.unwrap_or(2.0);
    let mut seconds = interval * rate.powi(attempt as i32);
    if let Some(max) = retrier.max_delay_seconds {
        seconds = seconds.min(max);
    }
    if retrier.jitter_strategy.as_deref() == Some("FULL") {
        seconds = rand::thread_rng().gen_range(0.0..=seconds);
    }
    (seconds * 1000.0).round() as i64
}

pub fn max_attempts(retrier: &Retrier) -> u32 {
    retrier.max_attempts.unwrap_or(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retrier(max_delay: Option<f64>) -> Retrier {
        Retrier {
            error_equals: vec![names::ALL.into()],
            interval_seconds: Some(2.0),
            max_attempts: None,
            backoff_rate: Some(3.0),
            max_delay_seconds: max_delay,
            jitter_strategy: None,
        }
    }

    #[test]
    fn states_all_does_not_catch_runtime_errors() {
        let all = vec![names::ALL.to_string()];
        assert!(matches(&all, "Lambda.ServiceException"));
        assert!(!matches(&all, names::RUNTIME));
    }

    #[test]
    fn task_failed_does_not_catch_timeouts() {
        let tf = vec![names::TASK_FAILED.to_string()];
        assert!(matches(&tf, "Custom"));
        assert!(!matches(&tf, names::TIMEOUT));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(delay_millis(&retrier(None), 0), 2000);
        assert_eq!(delay_millis(&retrier(None), 2), 18000);
        assert_eq!(delay_millis(&retrier(Some(5.0)), 2), 5000);
    }
}
