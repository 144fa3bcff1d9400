//! Which workflow a message SES received starts, and what SES said of its
//! sender.

use aws_lambda_events::ses::SimpleEmailEvent;
use handoff_core::testing::Harness;
use handoff_core::trigger::Verdict;

fn receipt(recipients: &[&str], spf: &str, dkim: &str, dmarc: &str) -> SimpleEmailEvent {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/ses-invoice-approval.json")).unwrap();
    let r = &mut event["Records"][0]["ses"]["receipt"];
    r["recipients"] = serde_json::json!(recipients);
    r["spfVerdict"]["status"] = spf.into();
    r["dkimVerdict"]["status"] = dkim.into();
    r["dmarcVerdict"]["status"] = dmarc.into();
    serde_json::from_value(event).unwrap()
}

#[test]
fn mail_to_a_workflows_inbox_starts_that_workflow_with_sess_verdicts() {
    let h = Harness::new();
    let event = receipt(&["AP@finance.example.com"], "PASS", "PASS", "PASS");

    let (workflow, auth) = ingest::ses::route(&h.catalog, &event.records[0].ses.receipt).unwrap();

    assert_eq!(workflow, "invoice-approval");
    assert_eq!(
        (auth.spf, auth.dkim, auth.dmarc),
        (Verdict::Pass, Verdict::Pass, Verdict::Pass)
    );
    assert!(auth.sender_authenticated());
}

#[test]
fn a_failed_or_gray_dmarc_verdict_is_not_an_authenticated_sender() {
    let h = Harness::new();
    for dmarc in ["FAIL", "GRAY", "PROCESSING_FAILED"] {
        let event = receipt(&["ap@finance.example.com"], "PASS", "PASS", dmarc);
        let (_, auth) = ingest::ses::route(&h.catalog, &event.records[0].ses.receipt).unwrap();
        assert!(!auth.sender_authenticated(), "{dmarc}");
    }
}

#[test]
fn mail_to_no_workflows_inbox_starts_nothing() {
    let h = Harness::new();
    let event = receipt(&["someone@finance.example.com"], "PASS", "PASS", "PASS");

    assert!(ingest::ses::route(&h.catalog, &event.records[0].ses.receipt).is_none());
}
