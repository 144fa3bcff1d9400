//! What every [`RunStore`] must do, as scenarios each run against a fresh,
//! empty store. [`store_contract_tests!`](crate::store_contract_tests) turns
//! them into one test per scenario for a backend: the memory reference,
//! SQLite and DynamoDB all pass the same ones, so the local runtime and AWS
//! keep the same semantics (dedupe, conditional transitions, votes, paging,
//! the answer cache and the token ledger).

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::json;

use handoff_core::domain::*;
use handoff_core::ports::*;

use super::fixtures::*;

/// One `#[tokio::test]` per contract scenario. `$factory` is an async fn
/// taking the scenario's name and returning `(guard, Arc<store>)`: a fresh,
/// empty store, and whatever must live as long as it (a temporary file).
#[macro_export]
macro_rules! store_contract_tests {
    ($factory:path) => {
        $crate::store_contract_tests!(@scenarios $factory;
            duplicate_delivery_starts_one_run,
            replayed_body_or_business_key_is_a_duplicate_of_the_first_run,
            a_business_key_is_held_by_the_first_run_that_claims_it,
            run_round_trips_exactly,
            summary_updates_touch_only_their_fields,
            stale_transition_is_refused,
            concurrent_transitions_one_wins,
            list_runs_pages_newest_first,
            double_vote_is_refused,
            approval_closes_once,
            pending_approvals_page_oldest_first,
            decided_approvals_are_owed_until_delivered,
            slots_audit_and_feedback,
            feedback_is_one_per_run_and_reviewer,
            a_revoked_token_stays_revoked,
            a_cached_answer_is_returned_until_it_expires,
            an_expired_cached_answer_is_not_returned,
            concurrent_spends_sum_exactly,
            the_newest_model_wins_and_round_trips,
            reviews_are_kept_newest_first,
        );
    };
    (@scenarios $factory:path; $($scenario:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                let (_keep, store) = $factory(stringify!($scenario)).await;
                $crate::testing::store_contract::$scenario(store).await;
            }
        )*
    };
}

pub async fn duplicate_delivery_starts_one_run<S: RunStore + 'static>(store: Arc<S>) {
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let r = run(&format!("run-{i}"), "refunds", None, t(i));
                create(store.as_ref(), &r, "evt-1", &fresh("refunds", "evt-1"))
                    .await
                    .map(|c| (r.id, c))
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap().unwrap());
    }
    let winners: Vec<&RunId> = outcomes
        .iter()
        .filter(|(_, c)| *c == Created::New)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let winner = winners[0].clone();
    for (id, created) in &outcomes {
        if *id != winner {
            assert_eq!(*created, Created::Duplicate(winner.clone()));
            assert_eq!(store.get_run(id).await.unwrap(), None, "loser {id} stored");
            assert_eq!(store.trail(id).await.unwrap(), [], "loser {id} audited");
        }
    }
    // The first audit entry is written with the run, once.
    let trail = store.trail(&winner).await.unwrap();
    let kinds: Vec<&str> = trail.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["run.received"]);
    let stored = store.get_run(&winner).await.unwrap().unwrap();
    assert_eq!(stored.id, winner);
    assert_eq!(
        store.get_event(&winner).await.unwrap(),
        Some(event("refunds", "evt-1"))
    );
    // Another workflow with the same delivery id is another delivery.
    let other = run("run-other", "billing", None, t(50));
    let created = create(store.as_ref(), &other, "evt-1", &fresh("billing", "evt-1"))
        .await
        .unwrap();
    assert_eq!(created, Created::New);
}

pub async fn run_round_trips_exactly<S: RunStore>(store: Arc<S>) {
    // Timestamps round-trip to the microsecond: DynamoDB items keep six digits.
    let now = Utc::now().trunc_subsecs(6);
    let mut r = run("run-exact", "refunds", Some("a@example.com"), now);
    r.summary.label = Some("refund".into());
    put_run(&*store, &r).await;
    assert_eq!(store.get_run(&r.id).await.unwrap(), Some(r.clone()));
    assert_eq!(store.get_run(&RunId("nope".into())).await.unwrap(), None);
    assert_eq!(store.get_event(&RunId("nope".into())).await.unwrap(), None);

    let summary = reviewed_and_failed("refund", 0.93, "auto");
    let all = SummaryUpdate::all(&summary);
    store.update_summary(&r.id, &all).await.unwrap();
    assert_eq!(summary_of(&*store, &r.id).await, summary);
    let missing = store.update_summary(&RunId("nope".into()), &all).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

/// The summary of a run labelled, routed and reviewed, whose action failed.
fn reviewed_and_failed(label: &str, confidence: f64, route: &str) -> RunSummary {
    RunSummary {
        label: Some(label.into()),
        confidence: Some(confidence),
        route: Some(route.into()),
        reviewed: true,
        error: Some("Handoff.ActionFailed: 400".into()),
    }
}

async fn summary_of<S: RunStore + ?Sized>(store: &S, id: &RunId) -> RunSummary {
    store.get_run(id).await.unwrap().unwrap().summary
}

/// Stages write their own summary fields: an update leaves the fields it
/// does not name as stored, and a cleared error reads back as none.
pub async fn summary_updates_touch_only_their_fields<S: RunStore + 'static>(store: Arc<S>) {
    let r = run("run-summary", "refunds", None, Utc::now());
    put_run(&*store, &r).await;
    // Reason (label, confidence) and decide (route) at the same moment.
    let label = SummaryUpdate {
        label: Some("refund".into()),
        confidence: Some(0.5),
        ..SummaryUpdate::default()
    };
    let route = SummaryUpdate {
        route: Some("billing".into()),
        ..SummaryUpdate::default()
    };
    let (a, b) = tokio::join!(
        store.update_summary(&r.id, &label),
        store.update_summary(&r.id, &route)
    );
    a.unwrap();
    b.unwrap();
    let failed = SummaryUpdate {
        reviewed: Some(true),
        error: Some(Some("Handoff.ActionFailed: 400".into())),
        ..SummaryUpdate::default()
    };
    store.update_summary(&r.id, &failed).await.unwrap();
    let expected = reviewed_and_failed("refund", 0.5, "billing");
    assert_eq!(summary_of(&*store, &r.id).await, expected);

    let cleared = SummaryUpdate {
        error: Some(None),
        ..SummaryUpdate::default()
    };
    store.update_summary(&r.id, &cleared).await.unwrap();
    let read = summary_of(&*store, &r.id).await;
    assert_eq!(read.error, None);
    assert_eq!(read.label.as_deref(), Some("refund"));
    let listed = store
        .list_runs(&RunQuery {
            limit: 10,
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.items[0].summary, read, "a listing reads the same");
    // Nothing to set still tells a missing run.
    let nothing = store
        .update_summary(&RunId("nope".into()), &SummaryUpdate::default())
        .await;
    assert!(
        matches!(nothing, Err(StoreError::NotFound(_))),
        "{nothing:?}"
    );
}

pub async fn stale_transition_is_refused<S: RunStore>(store: Arc<S>) {
    let r = run("run-t", "refunds", None, t(0));
    put_run(&*store, &r).await;
    start_run(&*store, &r.id, t(5)).await.unwrap();
    let stale = start_run(&*store, &r.id, t(6)).await;
    // The refusal names the status the run is in.
    assert!(
        matches!(&stale, Err(StoreError::Conflict(m)) if m.contains("RUNNING")),
        "{stale:?}"
    );
    let after = store.get_run(&r.id).await.unwrap().unwrap();
    assert_eq!(
        (after.status, after.stage, after.updated_at),
        (RunStatus::Running, Stage::Start, t(5))
    );
    // Listing by status finds it under its new status only.
    let of_status = |status| RunQuery {
        status: Some(status),
        ..RunQuery::default()
    };
    let running = store
        .list_runs(&of_status(RunStatus::Running))
        .await
        .unwrap();
    assert_eq!(running.items, [after]);
    let received = store
        .list_runs(&of_status(RunStatus::Received))
        .await
        .unwrap();
    assert_eq!(received.items, []);
    // Any of several statuses may be the starting point.
    store
        .transition(
            &r.id,
            &[RunStatus::Received, RunStatus::Running],
            RunStatus::AwaitingApproval,
            Stage::Approval,
            t(7),
        )
        .await
        .unwrap();
    let unknown = start_run(&*store, &RunId("run-missing".into()), t(8)).await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

pub async fn concurrent_transitions_one_wins<S: RunStore + 'static>(store: Arc<S>) {
    let r = run("run-race", "refunds", None, t(0));
    put_run(&*store, &r).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let id = r.id.clone();
            tokio::spawn(async move { start_run(&*store, &id, t(i)).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(ok, 1);
}

pub async fn list_runs_pages_newest_first<S: RunStore>(store: Arc<S>) {
    let mut all = Vec::new();
    for i in 0..7 {
        let workflow = if i % 2 == 0 { "refunds" } else { "billing" };
        let sender = (i % 3 == 0).then_some("vip@example.com");
        let r = run(&format!("run-{i}"), workflow, sender, t(i));
        put_run(&*store, &r).await;
        all.push(r);
    }
    // Two runs at the same instant still page without loss or repeat.
    let twin = run("run-twin", "refunds", None, t(3));
    put_run(&*store, &twin).await;
    fail_run(&*store, &all[4].id, Stage::Act, t(20)).await;

    let (runs, pages) = all_pages(3, |limit, cursor| {
        let store = &store;
        async move {
            let query = RunQuery {
                limit,
                cursor,
                ..RunQuery::default()
            };
            store.list_runs(&query).await
        }
    })
    .await;
    let seen: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        ["run-6", "run-5", "run-4", "run-twin", "run-3", "run-2", "run-1", "run-0"]
    );

    let refunds = RunQuery {
        workflow: Some("refunds".into()),
        ..RunQuery::default()
    };
    assert_eq!(
        one_page_of_ids(&*store, refunds).await,
        ["run-6", "run-4", "run-twin", "run-2", "run-0"]
    );
    let failed = RunQuery {
        status: Some(RunStatus::Failed),
        ..RunQuery::default()
    };
    assert_eq!(one_page_of_ids(&*store, failed).await, ["run-4"]);
    let vip = RunQuery {
        workflow: Some("billing".into()),
        sender: Some("vip@example.com".into()),
        ..RunQuery::default()
    };
    assert_eq!(one_page_of_ids(&*store, vip).await, ["run-3"]);
}

pub async fn double_vote_is_refused<S: RunStore>(store: Arc<S>) {
    let a = approval("ap-1", "run-1", t(0));
    store.put_approval(&a).await.unwrap();
    assert_eq!(store.get_approval(&a.id).await.unwrap(), Some(a.clone()));

    let after = store
        .record_vote(&a.id, &vote("ana", Verdict::Approve))
        .await
        .unwrap();
    assert_eq!(after.votes, vec![vote("ana", Verdict::Approve)]);
    let again = store
        .record_vote(&a.id, &vote("ana", Verdict::Reject))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let after = store
        .record_vote(&a.id, &vote("bo", Verdict::Approve))
        .await
        .unwrap();
    assert_eq!(after.votes.len(), 2);
    assert_eq!(
        after.vote_of("ana").map(|v| v.verdict),
        Some(Verdict::Approve),
        "the refused vote did not overwrite the first"
    );
    assert_eq!(after.tally(), Tally::Approved);
    assert_eq!(store.get_approval(&a.id).await.unwrap(), Some(after));

    let unknown = store
        .record_vote(&ApprovalId("nope".into()), &vote("ana", Verdict::Approve))
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

pub async fn approval_closes_once<S: RunStore>(store: Arc<S>) {
    let a = approval("ap-2", "run-1", t(0));
    store.put_approval(&a).await.unwrap();
    store
        .close_approval(&a.id, ApprovalStatus::Rejected, t(60))
        .await
        .unwrap();
    let again = store
        .close_approval(&a.id, ApprovalStatus::Approved, t(61))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let late = store
        .record_vote(&a.id, &vote("ana", Verdict::Approve))
        .await;
    assert!(matches!(late, Err(StoreError::Conflict(_))), "{late:?}");
    let closed = store.get_approval(&a.id).await.unwrap().unwrap();
    assert_eq!(closed.status, ApprovalStatus::Rejected);
    assert_eq!(closed.decided_at, Some(t(60)));
    let unknown = store
        .close_approval(&ApprovalId("nope".into()), ApprovalStatus::Expired, t(60))
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

pub async fn pending_approvals_page_oldest_first<S: RunStore>(store: Arc<S>) {
    put_approvals(&*store, 5).await;
    store
        .put_approval(&approval("ap-x", "run-2", t(2)))
        .await
        .unwrap();
    store
        .close_approval(&ApprovalId("ap-1".into()), ApprovalStatus::Approved, t(9))
        .await
        .unwrap();

    let (pending, pages) =
        all_pages(2, |limit, cursor| store.pending_approvals(limit, cursor)).await;
    let seen: Vec<&str> = pending.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(seen, ["ap-0", "ap-2", "ap-x", "ap-3", "ap-4"]);
    assert_eq!(pages, 3);

    let of_run: Vec<String> = store
        .approvals_of_run(&RunId("run-1".into()))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id.0)
        .collect();
    assert_eq!(of_run, ["ap-4", "ap-3", "ap-2", "ap-1", "ap-0"]);
}

pub async fn slots_audit_and_feedback<S: RunStore>(store: Arc<S>) {
    let id = RunId("run-s".into());
    assert_eq!(store.get_slot(&id, &Slot::Ai).await.unwrap(), None);
    store
        .put_slot(&id, &Slot::Ai, &json!({"label": "a"}))
        .await
        .unwrap();
    store
        .put_slot(&id, &Slot::Ai, &json!({"label": "b"}))
        .await
        .unwrap();
    let action = Slot::Action("refund".into());
    store.put_slot(&id, &action, &json!([1, 2])).await.unwrap();
    assert_eq!(
        store.get_slot(&id, &Slot::Ai).await.unwrap(),
        Some(json!({"label": "b"}))
    );
    assert_eq!(
        store.get_slot(&id, &action).await.unwrap(),
        Some(json!([1, 2]))
    );

    let e1 = AuditEvent::new(&id, t(1), Stage::Ingest, "run.received", json!({}));
    let e2 = AuditEvent::new(
        &id,
        t(2),
        Stage::Reason,
        "ai.classified",
        json!({"label": "b"}),
    );
    let e3 = AuditEvent::new(&id, t(2), Stage::Decide, "decision.made", json!(null));
    let elsewhere = AuditEvent::new(&RunId("other".into()), t(0), Stage::Ingest, "x", json!({}));
    for e in [&e1, &e2, &elsewhere, &e3] {
        store.append(e).await.unwrap();
    }
    assert_eq!(store.trail(&id).await.unwrap(), vec![e1, e2, e3]);

    for i in 0..4 {
        let feedback = Feedback {
            workflow: if i == 2 { "billing" } else { "refunds" }.into(),
            ..correction(&format!("run-{i}"), "ana", "b", t(i))
        };
        store.put_feedback(&feedback).await.unwrap();
    }
    let newest: Vec<String> = store
        .list_feedback("refunds", 2)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.run_id.0)
        .collect();
    assert_eq!(newest, ["run-3", "run-1"]);
    assert!(store.list_feedback("refunds", 0).await.unwrap().is_empty());
}

pub async fn feedback_is_one_per_run_and_reviewer<S: RunStore>(store: Arc<S>) {
    for feedback in [
        correction("run-1", "ana", "b", t(1)),
        correction("run-1", "bo", "b", t(2)),
        correction("run-2", "ana", "b", t(3)),
        correction("run-1", "ana", "c", t(4)),
    ] {
        store.put_feedback(&feedback).await.unwrap();
    }
    assert_eq!(
        corrections_listed(&*store, 10).await,
        [
            ("run-1", "ana", "c"),
            ("run-2", "ana", "b"),
            ("run-1", "bo", "b")
        ]
        .map(owned),
        "ana's second correction of run-1 replaced her first"
    );
}

pub async fn a_revoked_token_stays_revoked<S: RunStore>(store: Arc<S>) {
    assert!(!store.token_revoked("tok-1").await.unwrap());
    store.revoke_token("tok-1", t(60)).await.unwrap();
    store.revoke_token("tok-1", t(120)).await.unwrap();
    assert!(store.token_revoked("tok-1").await.unwrap());
    assert!(!store.token_revoked("tok-2").await.unwrap());
}

// ---- the answer cache and the token ledger ----

pub async fn a_cached_answer_is_returned_until_it_expires<S: RunStore>(store: Arc<S>) {
    let now = Utc::now();
    let (until, later) = (now + Duration::hours(1), now + Duration::hours(2));
    let key_1_at = |at| store.get_cached("key-1", at);
    assert_eq!(key_1_at(now).await.unwrap(), None);
    cache(&*store, "key-1", "refund", until).await;
    assert_eq!(key_1_at(now).await.unwrap(), Some(answer("refund")));
    assert_eq!(store.get_cached("key-2", now).await.unwrap(), None);
    // At its expiry it is gone, whether or not it still lingers.
    assert_eq!(key_1_at(until).await.unwrap(), None);
    // Put again: the new answer, with the new expiry.
    cache(&*store, "key-1", "billing", later).await;
    assert_eq!(key_1_at(until).await.unwrap(), Some(answer("billing")));
}

pub async fn an_expired_cached_answer_is_not_returned<S: RunStore>(store: Arc<S>) {
    let now = Utc::now();
    cache(&*store, "key-old", "refund", now - Duration::seconds(1)).await;
    assert_eq!(store.get_cached("key-old", now).await.unwrap(), None);
}

pub async fn concurrent_spends_sum_exactly<S: RunStore + 'static>(store: Arc<S>) {
    let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    assert_eq!(store.spent("refunds", day).await.unwrap(), 0);
    let spends: Vec<_> = (1..=40u64)
        .map(|tokens| {
            let store = store.clone();
            tokio::spawn(async move { store.spend("refunds", day, tokens).await })
        })
        .collect();
    let mut totals = Vec::new();
    for spend in spends {
        totals.push(spend.await.unwrap().unwrap());
    }
    // Each add saw the ones before it and none was lost.
    let sum = (1..=40u64).sum::<u64>();
    totals.sort_unstable();
    totals.dedup();
    assert_eq!(totals.len(), 40, "every spend returned its own total");
    assert_eq!(totals.last(), Some(&sum));
    assert_eq!(store.spent("refunds", day).await.unwrap(), sum);
    // Per workflow and per day.
    assert_eq!(store.spent("leads", day).await.unwrap(), 0);
    let next = day.succ_opt().unwrap();
    assert_eq!(store.spent("refunds", next).await.unwrap(), 0);
    assert_eq!(store.spend("refunds", next, 7).await.unwrap(), 7);
}

pub async fn decided_approvals_are_owed_until_delivered<S: RunStore>(store: Arc<S>) {
    put_approvals(&*store, 4).await;
    let id = |i: usize| ApprovalId(format!("ap-{i}"));
    for (i, to, at) in [
        (2, ApprovalStatus::Rejected, t(7)),
        (0, ApprovalStatus::Approved, t(8)),
        (1, ApprovalStatus::Expired, t(9)),
    ] {
        store.close_approval(&id(i), to, at).await.unwrap();
    }

    let (owed, _) = all_pages(1, |limit, cursor| {
        store.undelivered_approvals(limit, cursor)
    })
    .await;
    let owed: Vec<(&str, ApprovalStatus)> =
        owed.iter().map(|a| (a.id.as_str(), a.status)).collect();
    // Oldest decision first; an expired approval owes nothing.
    assert_eq!(
        owed,
        [
            ("ap-2", ApprovalStatus::Rejected),
            ("ap-0", ApprovalStatus::Approved)
        ]
    );

    // Neither list shows a decided approval as pending.
    let pending = store.pending_approvals(10, None).await.unwrap();
    let pending: Vec<&str> = pending.items.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(pending, ["ap-3"]);

    assert!(store.mark_delivered(&id(2)).await.unwrap());
    assert!(!store.mark_delivered(&id(2)).await.unwrap(), "once");
    assert!(
        !store.mark_delivered(&id(3)).await.unwrap(),
        "pending owes nothing"
    );
    let page = store.undelivered_approvals(10, None).await.unwrap();
    let left: Vec<&str> = page.items.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(left, ["ap-0"]);
}

pub async fn replayed_body_or_business_key_is_a_duplicate_of_the_first_run<S: RunStore>(
    store: Arc<S>,
) {
    let first = run("run-first", "invoices", None, t(0));
    let key = claiming("d-1", "body-1", Some("inv-1"));
    assert_eq!(
        create(&*store, &first, "d-1", &key).await.unwrap(),
        Created::New
    );
    // The same body under a new delivery id; the same invoice in a new body.
    for (i, key) in [
        claiming("d-2", "body-1", None),
        claiming("d-3", "body-2", Some("inv-1")),
    ]
    .iter()
    .enumerate()
    {
        let replay = run(&format!("run-replay-{i}"), "invoices", None, t(1));
        let created = create(&*store, &replay, &key.delivery_id, key)
            .await
            .unwrap();
        assert_eq!(created, Created::Duplicate(first.id.clone()), "{key:?}");
        assert_eq!(store.get_run(&replay.id).await.unwrap(), None);
    }
    // A duplicate stored none of its claims: its delivery id is still free.
    let next = run("run-next", "invoices", None, t(2));
    let key = claiming("d-3", "body-3", Some("inv-2"));
    assert_eq!(
        create(&*store, &next, "d-3", &key).await.unwrap(),
        Created::New
    );
}

pub async fn a_business_key_is_held_by_the_first_run_that_claims_it<S: RunStore>(store: Arc<S>) {
    let (first, second) = (RunId("run-mailed".into()), RunId("run-again".into()));
    let claim = |run: &RunId, key: &str| {
        let (store, run, key) = (store.clone(), run.clone(), key.to_string());
        async move {
            store
                .claim_business_key("invoices", &key, &run)
                .await
                .unwrap()
        }
    };
    assert_eq!(claim(&first, "sha256:inv-1").await, first, "a new claim");
    assert_eq!(claim(&first, "sha256:inv-1").await, first, "claimed again");
    assert_eq!(claim(&second, "sha256:inv-1").await, first, "taken");
    assert_eq!(claim(&second, "sha256:inv-2").await, second, "another key");
    assert_eq!(
        store
            .claim_business_key("billing", "sha256:inv-1", &second)
            .await
            .unwrap(),
        second,
        "another workflow's key"
    );

    // A key claimed with its run at intake is the same record.
    let relayed = run("run-relayed", "invoices", None, t(0));
    let key = claiming("d-1", "body-1", Some("inv-3"));
    create(&*store, &relayed, "d-1", &key).await.unwrap();
    assert_eq!(claim(&second, "sha256:inv-3").await, relayed.id);
    // And one claimed after extraction makes a later delivery a duplicate.
    let late = run("run-late", "invoices", None, t(1));
    let key = claiming("d-2", "body-2", Some("inv-2"));
    assert_eq!(
        create(&*store, &late, "d-2", &key).await.unwrap(),
        Created::Duplicate(second)
    );
}

fn model_meta(version: u64, digest: &str) -> ModelMeta {
    ModelMeta {
        workflow: "support-triage".into(),
        task: "intent".into(),
        version,
        trained_at: Utc::now().trunc_subsecs(3),
        spec_digest: "spec-1".into(),
        training_digest: digest.into(),
        examples: 12,
        corrections: 2,
        model: "embedded/ngrams".into(),
    }
}

pub async fn the_newest_model_wins_and_round_trips<S: RunStore>(store: Arc<S>) {
    assert_eq!(
        store
            .latest_model("support-triage", "intent")
            .await
            .unwrap(),
        None
    );
    // Bigger than one DynamoDB item, and barely compressible.
    let mut state = 0x9e37_79b9_u32;
    let big: Vec<u8> = (0..1_500_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    let (v1, v2) = (model_meta(1_000, "a"), model_meta(2_000, "b"));
    store.put_model(&v1, b"first").await.unwrap();
    store.put_model(&v2, &big).await.unwrap();

    let latest = store
        .latest_model("support-triage", "intent")
        .await
        .unwrap();
    assert_eq!(latest.as_ref(), Some(&v2));
    assert_eq!(
        store.model_body(&v2).await.unwrap().as_deref(),
        Some(&big[..])
    );
    assert_eq!(
        store.latest_model("support-triage", "other").await.unwrap(),
        None
    );

    for stale in [model_meta(2_000, "c"), model_meta(1_500, "d")] {
        let err = store.put_model(&stale, b"stale").await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    }
    assert_eq!(
        store
            .latest_model("support-triage", "intent")
            .await
            .unwrap(),
        Some(v2)
    );
}

/// Accuracy reviews are a history per workflow, read newest first; a second
/// review at the same instant replaces the first.
pub async fn reviews_are_kept_newest_first<S: RunStore>(store: Arc<S>) {
    let t0 = Utc::now().trunc_subsecs(6);
    for day in 0..3 {
        let at = t0 + Duration::days(7 * day);
        store
            .put_review("refunds", at, &json!({ "week": day }))
            .await
            .unwrap();
    }
    store
        .put_review("invoices", t0, &json!({ "week": "other" }))
        .await
        .unwrap();
    store
        .put_review(
            "refunds",
            t0 + Duration::days(14),
            &json!({ "week": 2, "again": true }),
        )
        .await
        .unwrap();

    assert_eq!(
        store.reviews("refunds", 2).await.unwrap(),
        vec![json!({ "week": 2, "again": true }), json!({ "week": 1 })]
    );
    assert_eq!(store.reviews("refunds", 10).await.unwrap().len(), 3);
    assert_eq!(
        store.reviews("invoices", 10).await.unwrap(),
        vec![json!({ "week": "other" })]
    );
    assert!(store.reviews("refunds", 0).await.unwrap().is_empty());
    assert!(store.reviews("nobody", 5).await.unwrap().is_empty());
}

// ---- helpers, also for what one backend alone has to show ----

/// The starter's transition: RECEIVED to RUNNING at the start stage.
pub async fn start_run<S: RunStore + ?Sized>(
    store: &S,
    id: &RunId,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    move_received(store, id, RunStatus::Running, Stage::Start, at).await
}

/// A received run failing at `stage`.
pub async fn fail_run<S: RunStore + ?Sized>(
    store: &S,
    id: &RunId,
    stage: Stage,
    at: DateTime<Utc>,
) {
    move_received(store, id, RunStatus::Failed, stage, at)
        .await
        .unwrap();
}

async fn move_received<S: RunStore + ?Sized>(
    store: &S,
    id: &RunId,
    to: RunStatus,
    stage: Stage,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let from = [RunStatus::Received];
    store.transition(id, &from, to, stage, at).await
}

/// A reviewer's confirmed correction of a refunds run to `label`.
pub fn correction(run: &str, reviewer: &str, label: &str, at: DateTime<Utc>) -> Feedback {
    Feedback {
        workflow: "refunds".into(),
        run_id: RunId(run.into()),
        at,
        text: "text".into(),
        predicted_label: "a".into(),
        confidence: 0.5,
        final_label: label.into(),
        edits: None,
        reviewer: reviewer.into(),
        status: FeedbackStatus::Confirmed,
    }
}

/// The refunds feedback listed, newest first, as (run, reviewer, label).
pub async fn corrections_listed<S: RunStore + ?Sized>(
    store: &S,
    limit: usize,
) -> Vec<(String, String, String)> {
    let listed = store.list_feedback("refunds", limit).await.unwrap();
    listed
        .into_iter()
        .map(|f| (f.run_id.0, f.reviewer, f.final_label))
        .collect()
}

/// A (run, reviewer, label) row as [`corrections_listed`] gives it.
pub fn owned((run, reviewer, label): (&str, &str, &str)) -> (String, String, String) {
    (run.into(), reviewer.into(), label.into())
}

/// Every page of a listing, `limit` items at most a page, following `next`
/// from the first: all the items in order, and how many pages it took.
pub async fn all_pages<T, F, Fut>(limit: usize, mut page: F) -> (Vec<T>, usize)
where
    F: FnMut(usize, Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, StoreError>>,
{
    let (mut items, mut pages, mut cursor) = (Vec::new(), 0, None);
    loop {
        let next = page(limit, cursor.take()).await.unwrap();
        pages += 1;
        assert!(next.items.len() <= limit, "a page holds {limit} at most");
        items.extend(next.items);
        match next.next {
            Some(next) => cursor = Some(next),
            None => return (items, pages),
        }
    }
}

/// Caches the answer labelled `label` under `key` until `until`.
async fn cache<S: RunStore + ?Sized>(store: &S, key: &str, label: &str, until: DateTime<Utc>) {
    store.put_cached(key, &answer(label), until).await.unwrap();
}

/// Pending approvals `ap-0` to `ap-<n-1>` of run-1, created a second apart.
async fn put_approvals<S: RunStore + ?Sized>(store: &S, n: i64) {
    for i in 0..n {
        store
            .put_approval(&approval(&format!("ap-{i}"), "run-1", t(i)))
            .await
            .unwrap();
    }
}

/// The ids of the runs a query lists, all on its one page.
async fn one_page_of_ids<S: RunStore + ?Sized>(store: &S, query: RunQuery) -> Vec<String> {
    let page = store.list_runs(&query).await.unwrap();
    assert_eq!(page.next, None);
    page.items.into_iter().map(|r| r.id.0).collect()
}
