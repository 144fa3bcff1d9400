//! A Slack incoming-webhook message for one reviewer: the request as a
//! section and a button to the page that e-mails that reviewer their own
//! signed link. A channel is shared, so the signed link itself never goes
//! there: anyone in the channel could otherwise cast every reviewer's vote.

use serde_json::{json, Value};

use crate::ports::Notification;

/// Slack refuses section text over 3,000 characters.
const SECTION_CHARS: usize = 3000;

/// `&`, `<` and `>` are Slack's control characters: unescaped, text from a
/// webhook could mention `<!channel>` or dress up a link of its own.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn summary(n: &Notification) -> String {
    crate::pages::truncate(&escape(n.shared_text.trim_end()), SECTION_CHARS)
}

pub fn message(n: &Notification) -> Value {
    json!({
        "text": escape(&n.subject),
        "unfurl_links": false,
        "unfurl_media": false,
        "blocks": [
            {
                "type": "section",
                "text": { "type": "mrkdwn", "text": summary(n) }
            },
            {
                "type": "actions",
                "elements": [{
                    "type": "button",
                    "action_id": "review",
                    "style": "primary",
                    "text": { "type": "plain_text", "text": "Review and decide" },
                    "url": n.claim_link
                }]
            },
            {
                "type": "context",
                "elements": [{
                    "type": "mrkdwn",
                    "text": format!("For {}: the button e-mails them their own link.", escape(&n.reviewer))
                }]
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ApprovalId, RunId};

    fn notification(text: &str) -> Notification {
        let link = "https://h.example/approvals/ab12?r=ana%40example.com&exp=1&sig=x".to_string();
        Notification {
            shared_text: text.to_string(),
            claim_link: "https://h.example/approvals/ab12/claim?r=ana%40example.com".into(),
            run_id: RunId("run-1".into()),
            approval_id: ApprovalId("ab12".into()),
            workflow: "support-triage".into(),
            reviewer: "ana@example.com".into(),
            subject: "Approval needed: support-triage (refund_request)".into(),
            text: format!("{text}\n{link}"),
            link,
            reminder: false,
            private: false,
        }
    }

    #[test]
    fn a_section_and_one_button_to_the_page_that_mails_the_reviewer() {
        let n = notification("a support-triage run needs your decision.");
        let m = message(&n);
        assert_eq!(m["blocks"][0]["type"], "section");
        assert_eq!(
            m["blocks"][0]["text"]["text"],
            "a support-triage run needs your decision."
        );
        let buttons = m["blocks"][1]["elements"].as_array().unwrap();
        assert_eq!(buttons.len(), 1);
        assert_eq!(buttons[0]["type"], "button");
        assert_eq!(buttons[0]["url"], n.claim_link.as_str());
        assert!(
            !m.to_string().contains("sig="),
            "no signed link in a channel: {m}"
        );
        assert!(m["text"].as_str().unwrap().starts_with("Approval needed"));
    }

    #[test]
    fn webhook_text_cannot_mention_or_link() {
        let n = notification("Subject: <!channel> <https://evil.example|your bank> & more");
        let text = message(&n)["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(!text.contains('<') && !text.contains('>'), "{text}");
        assert!(text.contains("&lt;!channel&gt;"), "{text}");
        assert!(text.contains("&amp; more"), "{text}");
    }

    #[test]
    fn long_text_is_cut_to_slacks_limit() {
        let n = notification(&"x".repeat(5000));
        let text = message(&n)["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .chars()
            .count();
        assert!(text <= SECTION_CHARS + 1, "{text}");
    }
}
