//! The approval page of a run with documents: each page drawn beside the
//! fields the AI read from it, served only on the reviewer's signed link,
//! and the fields the reviewer corrects are what actions use and what the
//! extract task learns from.

use handoff_core::domain::*;
use handoff_core::http::{HttpRequest, HttpResponse};
use handoff_core::ports::*;
use handoff_core::stages::finalize::FinalizeInput;
use handoff_core::testing::{link_request, Harness};
use handoff_invoices::{Invoice, Layout};
use serde_json::{json, Value};

use crate::documents::run_with_document;

const CONTROLLER: &str = "controller@finance.example.com";
const CFO: &str = "cfo@finance.example.com";

/// An e-mailed PDF invoice read, extracted and decided, its approval
/// requested (whatever the rules said) and its links sent.
async fn awaiting_approval(h: &Harness, id: &str) -> (RunRef, Invoice) {
    let invoice = Invoice::sample(7);
    let pdf = handoff_invoices::pdf(&invoice, Layout::Classic);
    let run = run_with_document(h, id, "invoice.pdf", &pdf, "application/pdf").await;
    h.context().run(&run).await.unwrap();
    h.reason().run(&run).await.unwrap();
    h.decide().run(&run).await.unwrap();
    h.request_approval(&run.run_id, &run.workflow, false, "tok-1")
        .await
        .unwrap();
    (run, invoice)
}

fn link_for(h: &Harness, reviewer: &str) -> String {
    h.notifier
        .sent
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|n| n.reviewer == reviewer)
        .expect("a link was sent")
        .link
        .clone()
}

fn html(resp: &HttpResponse) -> String {
    String::from_utf8(resp.body.clone()).unwrap()
}

/// `GET <link's approval>/documents/<document>/pages/<page>?<link's query>`.
fn page_request(link: &str, document: &str, page: &str) -> HttpRequest {
    let mut req = link_request("GET", link, "");
    req.path = format!("{}/documents/{document}/pages/{page}", req.path);
    req.path_params.insert("document".into(), document.into());
    req.path_params.insert("page".into(), page.into());
    req
}

fn ai_field(ai: &AiResult, name: &str) -> Value {
    ai.outputs["invoice"][name].clone()
}

#[tokio::test]
async fn the_page_shows_each_document_page_beside_the_extracted_fields() {
    let h = Harness::new();
    let (run, _) = awaiting_approval(&h, "run-page").await;
    let link = link_for(&h, CONTROLLER);
    let resp = h.callback().handle(&link_request("GET", &link, "")).await;
    assert_eq!(resp.status, 200);
    let page = html(&resp);

    let approval = h.store.approvals_of_run(&run.run_id).await.unwrap()[0].clone();
    let query = link.split_once('?').unwrap().1.replace("&", "&amp;");
    let src = format!("src=\"{}/documents/0/pages/1?{query}\"", approval.id);
    assert!(page.contains(&src), "no {src} in {page}");
    assert!(page.contains("invoice.pdf"), "{page}");
    assert!(page.contains("read by pdf-text"), "{page}");
    assert!(
        !page.contains("/pages/2"),
        "the invoice has one page: {page}"
    );
    let ai = h.stored_ai(&run.run_id).await;
    let po = ai_field(&ai, "po_number");
    let input = format!(
        "name=\"field.invoice.po_number\" form=\"decision\" value=\"{}\"",
        po.as_str().unwrap()
    );
    assert!(page.contains(&input), "no {input} in {page}");
    assert!(page.contains("name=\"field.invoice.tax\""), "{page}");
    assert!(
        !page.contains("name=\"draft\""),
        "invoice-approval drafts nothing: {page}"
    );
    let csp = resp.header("content-security-policy").unwrap();
    assert!(csp.contains("img-src 'self'"), "{csp}");
}

#[tokio::test]
async fn a_page_image_is_served_on_the_reviewers_link_only() {
    let h = Harness::new();
    awaiting_approval(&h, "run-image").await;
    let link = link_for(&h, CONTROLLER);

    let resp = h.callback().handle(&page_request(&link, "0", "1")).await;
    assert_eq!(resp.status, 200, "{}", html(&resp));
    assert_eq!(resp.header("content-type"), Some("image/png"));
    assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
    assert!(resp.header("cache-control").unwrap().starts_with("private"));
    let image = image::load_from_memory(&resp.body).unwrap().to_luma8();
    let ink = image.pixels().filter(|p| p.0[0] < 128).count();
    assert!(ink > 1000, "the invoice's text is drawn: {ink} dark pixels");

    let forged = link.replace("sig=", "sig=AAAA");
    let resp = h.callback().handle(&page_request(&forged, "0", "1")).await;
    assert_eq!(resp.status, 403);
    assert!(resp.body_json().is_none() || !html(&resp).contains("PNG"));

    for (document, page) in [("1", "1"), ("0", "2"), ("x", "1"), ("0", "-1")] {
        let resp = h
            .callback()
            .handle(&page_request(&link, document, page))
            .await;
        assert_eq!(resp.status, 404, "document {document} page {page}");
    }
    let mut post = page_request(&link, "0", "1");
    post.method = "POST".into();
    assert_eq!(h.callback().handle(&post).await.status, 405);
}

#[tokio::test]
async fn a_document_past_its_retention_says_so() {
    let h = Harness::new();
    let (run, _) = awaiting_approval(&h, "run-gone").await;
    let event = h.store.get_event(&run.run_id).await.unwrap().unwrap();
    let key = event.documents[0].key(&run.workflow);
    assert!(h.documents.stored.lock().unwrap().remove(&key).is_some());
    let link = link_for(&h, CONTROLLER);
    let resp = h.callback().handle(&page_request(&link, "0", "1")).await;
    assert_eq!(resp.status, 410);
    assert!(html(&resp).contains("no longer kept"), "{}", html(&resp));
}

#[tokio::test]
async fn corrected_fields_are_what_the_payment_carries_and_what_the_ai_learns() {
    let h = Harness::new();
    let (run, invoice) = awaiting_approval(&h, "run-correct").await;
    let ai = h.stored_ai(&run.run_id).await;
    let kept_po = ai_field(&ai, "po_number");

    // The same PO as shown, a corrected number and amount, the tax added.
    let form = format!(
        "verdict=approve&field.invoice.po_number={}&field.invoice.invoice_id=INV-FIXED-1\
         &field.invoice.amount={}&field.invoice.tax=19.5",
        urlencoding::encode(kept_po.as_str().unwrap()),
        urlencoding::encode(r#"{"value": 1234.5, "currency": "EUR"}"#),
    );
    let resp = h
        .callback()
        .handle(&link_request("POST", &link_for(&h, CONTROLLER), &form))
        .await;
    assert_eq!(resp.status, 202, "{}", html(&resp));
    let approval = h.store.approvals_of_run(&run.run_id).await.unwrap()[0].clone();
    let corrected = json!({"fields": {"invoice": {
        "invoice_id": "INV-FIXED-1",
        "amount": {"value": 1234.5, "currency": "EUR"},
        "tax": 19.5,
    }}});
    assert_eq!(approval.votes[0].edits, Some(corrected.clone()));

    let resp = h
        .callback()
        .handle(&link_request("POST", &link_for(&h, CFO), "verdict=approve"))
        .await;
    assert_eq!(resp.status, 200, "{}", html(&resp));
    h.act().run(&run).await.unwrap();
    let payment = h
        .sink
        .performed
        .lock()
        .unwrap()
        .iter()
        .find(|a| a.action == "schedule_payment")
        .cloned()
        .expect("the payment was scheduled");
    let body: Value = serde_json::from_str(&payment.body).unwrap();
    assert_eq!(body["invoice"], "INV-FIXED-1");
    assert_eq!(body["amount"], json!({"value": 1234.5, "currency": "EUR"}));
    assert_eq!(body["po"], kept_po);

    h.finalize()
        .run(&FinalizeInput {
            run_id: run.run_id.clone(),
            workflow: run.workflow.clone(),
            failure: None,
        })
        .await
        .unwrap();
    let feedback = h.store.list_feedback(&run.workflow, 10).await.unwrap();
    assert_eq!(feedback.len(), 1, "{feedback:?}");
    assert_eq!(feedback[0].edits, Some(corrected));
    assert_ne!(invoice.expected()["invoice_id"], "INV-FIXED-1");
}

#[tokio::test]
async fn a_field_that_does_not_fit_its_schema_is_refused_and_nothing_is_recorded() {
    let h = Harness::new();
    let (run, _) = awaiting_approval(&h, "run-bad-field").await;
    let link = link_for(&h, CONTROLLER);
    for (form, says) in [
        (
            "verdict=approve&field.invoice.tax=lots",
            "`invoice.tax` is not valid JSON",
        ),
        (
            "verdict=approve&field.invoice.amount=%7B%22value%22%3A%201%7D",
            "`invoice.amount` does not fit its schema",
        ),
        (
            "verdict=approve&field.invoice.due_date=next%20week",
            "`invoice.due_date` does not fit",
        ),
        (
            "verdict=approve&field.invoice.iban=DE00",
            "`invoice.iban` is not an extracted field",
        ),
    ] {
        let resp = h
            .callback()
            .handle(&link_request("POST", &link, form))
            .await;
        assert_eq!(resp.status, 400, "{form}");
        assert!(html(&resp).contains(says), "{form}: {}", html(&resp));
    }
    let approval = h.store.approvals_of_run(&run.run_id).await.unwrap()[0].clone();
    assert!(approval.votes.is_empty());
}

#[tokio::test]
async fn unchanged_fields_are_no_edit_and_an_emptied_one_is_not_stated() {
    let h = Harness::new();
    let (run, _) = awaiting_approval(&h, "run-same").await;
    // Say the AI found no tax on this invoice.
    let mut ai = h.stored_ai(&run.run_id).await;
    if let Some(Value::Object(invoice)) = ai.outputs.get_mut("invoice") {
        invoice.remove("tax");
    }
    let stored = serde_json::to_value(&ai).unwrap();
    h.store
        .put_slot(&run.run_id, &Slot::Ai, &stored)
        .await
        .unwrap();
    let po = ai_field(&ai, "po_number");
    let form = format!(
        "verdict=approve&field.invoice.po_number=&field.invoice.tax=&field.invoice.amount={}",
        urlencoding::encode(&ai_field(&ai, "amount").to_string()),
    );
    assert!(po.is_string());
    let resp = h
        .callback()
        .handle(&link_request("POST", &link_for(&h, CONTROLLER), &form))
        .await;
    assert_eq!(resp.status, 202, "{}", html(&resp));
    let approval = h.store.approvals_of_run(&run.run_id).await.unwrap()[0].clone();
    // The tax was not found and stays empty; the PO was, and is cleared.
    assert_eq!(
        approval.votes[0].edits,
        Some(json!({"fields": {"invoice": {"po_number": null}}}))
    );
}
