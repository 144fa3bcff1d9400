//! Domain types ⇄ DynamoDB items, by hand: a few flat attributes per item
//! (keys, status, timestamps) and nested data as JSON strings. Pure, so the
//! key layout and round trips are unit-tested without a table.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};
use handoff_core::domain::*;
use handoff_core::ports::{CachedAnswer, StoreError};
use serde::de::DeserializeOwned;

pub type Item = HashMap<String, AttributeValue>;

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
pub const BY_STATUS: &str = "ByStatus";
pub const BY_SENDER: &str = "BySender";
pub const META: &str = "META";
pub const PENDING_APPROVALS: &str = "APPROVAL#pending";
/// Decided by people, the decision not yet taken by the waiting task.
pub const UNDELIVERED_APPROVALS: &str = "APPROVAL#undelivered";

/// Fixed width (microseconds, `Z`) so string order is time order in keys.
pub fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn run_pk(id: &RunId) -> String {
    format!("RUN#{id}")
}

pub fn status_pk(status: RunStatus) -> String {
    format!("STATUS#{status}")
}

/// The sender comes from the payload, so a long one is keyed by its hash:
/// an index key over 2 KB would refuse the run's write every time.
pub fn sender_pk(workflow: &str, sender: &str) -> String {
    if sender.len() > handoff_core::trigger::MAX_DELIVERY_ID_BYTES {
        format!("SENDER#{workflow}#{}", sha256_tag(sender.as_bytes()))
    } else {
        format!("SENDER#{workflow}#{sender}")
    }
}

/// The run's position in both indexes: newest first sorts by this.
pub fn run_sort_key(run: &Run) -> String {
    format!("{}#{}", ts(run.created_at), run.id)
}

pub fn approval_pk(id: &ApprovalId) -> String {
    format!("APPROVAL#{id}")
}

pub fn approval_pointer_sk(approval: &Approval) -> String {
    format!("APPROVAL#{}#{}", ts(approval.created_at), approval.id)
}

/// Claim keys are bounded (see [`DedupeClaim`]), so the partition key is.
pub fn dedupe_pk(workflow: &str, claim: &DedupeClaim) -> String {
    format!("DEDUPE#{workflow}#{}", claim.key)
}

pub fn feedback_pk(workflow: &str) -> String {
    format!("FEEDBACK#{workflow}")
}

pub fn revoked_token_pk(id: &str) -> String {
    format!("TOKEN#{id}")
}

pub fn cache_pk(key: &str) -> String {
    format!("CACHE#{key}")
}

pub fn budget_pk(workflow: &str) -> String {
    format!("BUDGET#{workflow}")
}

/// `YYYY-MM-DD`: a workflow's days in order under its partition.
pub fn day_sk(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// Days a ledger item outlives its day: the TTL deletes it after that.
pub const LEDGER_KEPT_DAYS: i64 = 3;

/// When the table's TTL may drop a day's ledger item (epoch seconds).
pub fn ledger_expires_at(day: NaiveDate) -> i64 {
    (day.and_time(chrono::NaiveTime::MIN).and_utc() + TimeDelta::days(LEDGER_KEPT_DAYS)).timestamp()
}

pub fn slot_sk(slot: &handoff_core::ports::Slot) -> String {
    format!("SLOT#{}", slot.key())
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn json_attr<T: serde::Serialize>(value: &T) -> AttributeValue {
    s(serde_json::to_string(value).expect("domain types serialise to JSON"))
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("stored item has a bad `{what}`: {detail}"))
}

/// Typed reads of one item's attributes; a missing or mistyped attribute is
/// a corrupt item, reported as `Unavailable` with the attribute's name.
pub struct Reader<'a>(pub &'a Item);

impl<'a> Reader<'a> {
    pub fn opt_str(&self, name: &str) -> Option<&'a str> {
        match self.0.get(name) {
            Some(AttributeValue::S(v)) => Some(v.as_str()),
            _ => None,
        }
    }

    pub fn str(&self, name: &str) -> Result<&'a str, StoreError> {
        self.opt_str(name).ok_or_else(|| corrupt(name, "missing"))
    }

    pub fn time(&self, name: &str) -> Result<DateTime<Utc>, StoreError> {
        parse_time(self.str(name)?).map_err(|e| corrupt(name, e))
    }

    pub fn opt_time(&self, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.opt_str(name)
            .map(|v| parse_time(v).map_err(|e| corrupt(name, e)))
            .transpose()
    }

    pub fn json<T: DeserializeOwned>(&self, name: &str) -> Result<T, StoreError> {
        serde_json::from_str(self.str(name)?).map_err(|e| corrupt(name, e))
    }

    pub fn number(&self, name: &str) -> Result<i64, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::N(v)) => v.parse().map_err(|e| corrupt(name, e)),
            _ => Err(corrupt(name, "missing")),
        }
    }

    pub fn bool(&self, name: &str) -> Result<bool, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::Bool(v)) => Ok(*v),
            _ => Err(corrupt(name, "missing")),
        }
    }
}

fn parse_time(v: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc))
}

pub fn run_item(run: &Run) -> Item {
    let sort = run_sort_key(run);
    let mut item = Item::from([
        (PK.into(), s(run_pk(&run.id))),
        (SK.into(), s(META)),
        ("id".into(), s(run.id.as_str())),
        ("workflow".into(), s(&run.workflow)),
        ("status".into(), s(run.status.as_str())),
        ("stage".into(), s(run.stage.as_str())),
        ("delivery_id".into(), s(&run.delivery_id)),
        ("created_at".into(), s(ts(run.created_at))),
        ("updated_at".into(), s(ts(run.updated_at))),
        (GSI1PK.into(), s(status_pk(run.status))),
        (GSI1SK.into(), s(sort.clone())),
    ]);
    item.extend(summary_attributes(&SummaryUpdate::all(&run.summary)));
    if let Some(sender) = &run.sender {
        item.insert("sender".into(), s(sender));
        item.insert(GSI2PK.into(), s(sender_pk(&run.workflow, sender)));
        item.insert(GSI2SK.into(), s(sort));
    }
    item
}

pub fn parse_stage(v: &str) -> Option<Stage> {
    serde_json::from_value(serde_json::Value::String(v.to_string())).ok()
}

pub fn run_from_item(item: &Item) -> Result<Run, StoreError> {
    let r = Reader(item);
    let status = r.str("status")?;
    let stage = r.str("stage")?;
    Ok(Run {
        id: RunId(r.str("id")?.to_string()),
        workflow: r.str("workflow")?.to_string(),
        status: RunStatus::parse(status).ok_or_else(|| corrupt("status", status))?,
        stage: parse_stage(stage).ok_or_else(|| corrupt("stage", stage))?,
        delivery_id: r.str("delivery_id")?.to_string(),
        sender: r.opt_str("sender").map(str::to_string),
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
        summary: summary_from(item)?,
    })
}

/// A summary field is an attribute of its own (`summary_label`, …), so a
/// stage sets its fields with one `SET` and never rewrites the others.
pub fn summary_attribute(field: &str) -> String {
    format!("summary_{field}")
}

/// The update's fields as attributes (a cleared error is NULL).
pub fn summary_attributes(update: &SummaryUpdate) -> Vec<(String, AttributeValue)> {
    update
        .fields()
        .into_iter()
        .map(|(field, value)| {
            let value = match value {
                serde_json::Value::String(v) => s(v),
                serde_json::Value::Number(v) => n(v),
                serde_json::Value::Bool(v) => AttributeValue::Bool(v),
                _ => AttributeValue::Null(true),
            };
            (summary_attribute(field), value)
        })
        .collect()
}

/// The summary attributes, over the whole-summary JSON items written before
/// them carry.
fn summary_from(item: &Item) -> Result<RunSummary, StoreError> {
    let r = Reader(item);
    let mut summary: RunSummary = match r.opt_str("summary") {
        Some(_) => r.json("summary")?,
        None => RunSummary::default(),
    };
    let text = |field: &str| match item.get(&summary_attribute(field)) {
        Some(AttributeValue::S(v)) => Some(Some(v.clone())),
        Some(AttributeValue::Null(_)) => Some(None),
        _ => None,
    };
    if let Some(Some(label)) = text("label") {
        summary.label = Some(label);
    }
    if let Some(Some(route)) = text("route") {
        summary.route = Some(route);
    }
    if let Some(error) = text("error") {
        summary.error = error;
    }
    if let Some(AttributeValue::N(v)) = item.get(&summary_attribute("confidence")) {
        summary.confidence = Some(v.parse().map_err(|e| corrupt("summary_confidence", e))?);
    }
    if let Some(AttributeValue::Bool(v)) = item.get(&summary_attribute("reviewed")) {
        summary.reviewed = *v;
    }
    Ok(summary)
}

pub const EVENT_SK: &str = "EVENT";

/// Compressed event bytes per item: with its keys and attribute names an
/// item stays well under DynamoDB's 400 KB.
pub const EVENT_PART_BYTES: usize = 300_000;

/// The run's event as items: its JSON gzipped (webhook JSON shrinks several
/// times over) and, if still too big for one item (a body of incompressible
/// text at the size limit, also mapped to a field), cut into parts. The
/// `EVENT` item holds the first part and the count; `EVENT#001`… the rest.
pub fn event_items(id: &RunId, event: &CanonicalEvent) -> Vec<Item> {
    let json = serde_json::to_vec(event).expect("domain types serialise to JSON");
    let packed = gzip(&json);
    let parts: Vec<&[u8]> = packed.chunks(EVENT_PART_BYTES).collect();
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let mut item = Item::from([
                (PK.into(), s(run_pk(id))),
                (SK.into(), s(event_part_sk(i))),
                ("event_gz".into(), AttributeValue::B(Blob::new(*part))),
            ]);
            if i == 0 {
                item.insert("parts".into(), n(parts.len()));
            }
            item
        })
        .collect()
}

/// `EVENT`, then `EVENT#001`…: the parts in sort-key order.
pub fn event_part_sk(i: usize) -> String {
    match i {
        0 => EVENT_SK.to_string(),
        i => format!("{EVENT_SK}#{i:03}"),
    }
}

/// How many items hold the event whose first item this is.
pub fn event_parts(first: &Item) -> Result<usize, StoreError> {
    match first.get("parts") {
        Some(_) => Ok(Reader(first).number("parts")? as usize),
        None => Ok(1),
    }
}

/// The event from its items in order; an item written before compression
/// holds it as a JSON string.
pub fn event_from_items(items: &[Item]) -> Result<CanonicalEvent, StoreError> {
    let Some(first) = items.first() else {
        return Err(corrupt("event", "no items"));
    };
    if first.contains_key("event") {
        return Reader(first).json("event");
    }
    let json = gunzip_parts(items, "event_gz")?;
    serde_json::from_slice(&json).map_err(|e| corrupt("event_gz", e))
}

/// The bytes gzipped and cut into the binary attribute `attr` of `items`,
/// in order.
pub fn gunzip_parts(items: &[Item], attr: &str) -> Result<Vec<u8>, StoreError> {
    let mut packed = Vec::new();
    for item in items {
        match item.get(attr) {
            Some(AttributeValue::B(blob)) => packed.extend_from_slice(blob.as_ref()),
            _ => return Err(corrupt(attr, "missing")),
        }
    }
    gunzip(&packed).map_err(|e| corrupt(attr, e))
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

fn gunzip(packed: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(packed).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// `expires_at` is the table's TTL attribute: epoch seconds, so DynamoDB
/// drops the key once senders stop retrying. A claim kept forever (a
/// business key) has none.
pub fn dedupe_item(workflow: &str, claim: &DedupeClaim, run: &RunId) -> Item {
    let mut item = Item::from([
        (PK.into(), s(dedupe_pk(workflow, claim))),
        (SK.into(), s(META)),
        ("run_id".into(), s(run.as_str())),
    ]);
    if let Some(at) = claim.expires_at {
        item.insert("expires_at".into(), n(at.timestamp()));
    }
    item
}

/// `expires_at` is the table's TTL attribute, which deletes the item some
/// time after; a read checks it, so an expired answer is never used.
pub fn cache_item(key: &str, answer: &CachedAnswer, expires_at: DateTime<Utc>) -> Item {
    Item::from([
        (PK.into(), s(cache_pk(key))),
        (SK.into(), s(META)),
        ("answer".into(), json_attr(answer)),
        ("expires_at".into(), n(expires_at.timestamp())),
    ])
}

/// The answer, unless the item had expired by `now`.
pub fn cached_answer_from_item(
    item: &Item,
    now: DateTime<Utc>,
) -> Result<Option<CachedAnswer>, StoreError> {
    let r = Reader(item);
    if r.number("expires_at")? <= now.timestamp() {
        return Ok(None);
    }
    r.json("answer").map(Some)
}

pub fn slot_item(id: &RunId, slot: &handoff_core::ports::Slot, value: &serde_json::Value) -> Item {
    Item::from([
        (PK.into(), s(run_pk(id))),
        (SK.into(), s(slot_sk(slot))),
        ("value".into(), json_attr(value)),
    ])
}

/// `suffix` keeps two events of the same microsecond apart.
pub fn audit_item(event: &AuditEvent, suffix: &str) -> Item {
    Item::from([
        (PK.into(), s(run_pk(&event.run_id))),
        (SK.into(), s(format!("EVT#{}#{suffix}", ts(event.at)))),
        ("event".into(), json_attr(event)),
    ])
}

/// The sort key of a correction: one per run and reviewer, so a put
/// replaces the reviewer's earlier one. Reviewers are addresses (at most
/// 254 bytes), so the key stays bounded.
pub const FEEDBACK_BY: &str = "BY#";

/// Newest-first order comes from `ByStatus`: `FEEDBACK#<workflow>`,
/// `<ts>#<run id>#<reviewer>`.
pub fn feedback_item(feedback: &Feedback) -> Item {
    Item::from([
        (PK.into(), s(feedback_pk(&feedback.workflow))),
        (
            SK.into(),
            s(format!(
                "{FEEDBACK_BY}{}#{}",
                feedback.run_id, feedback.reviewer
            )),
        ),
        (GSI1PK.into(), s(feedback_pk(&feedback.workflow))),
        (
            GSI1SK.into(),
            s(format!(
                "{}#{}#{}",
                ts(feedback.at),
                feedback.run_id,
                feedback.reviewer
            )),
        ),
        ("feedback".into(), json_attr(feedback)),
    ])
}

/// Votes are a map reviewer → vote JSON so one conditional `SET` adds a vote
/// only for a reviewer who has none. The approval's expiry is stored as
/// `link_expires_at` (a string): `expires_at` is the table's TTL attribute
/// and must not delete approvals.
pub fn approval_item(approval: &Approval) -> Item {
    let votes = approval
        .votes
        .iter()
        .map(|v| (v.reviewer.clone(), json_attr(v)))
        .collect();
    let mut item = Item::from([
        (PK.into(), s(approval_pk(&approval.id))),
        (SK.into(), s(META)),
        ("id".into(), s(approval.id.as_str())),
        ("run_id".into(), s(approval.run_id.as_str())),
        ("workflow".into(), s(&approval.workflow)),
        ("task_token".into(), s(approval.task_token.expose())),
        ("reviewers".into(), json_attr(&approval.reviewers)),
        ("required".into(), n(approval.required)),
        ("status".into(), json_attr(&approval.status)),
        (
            "escalation".into(),
            AttributeValue::Bool(approval.escalation),
        ),
        ("created_at".into(), s(ts(approval.created_at))),
        ("link_expires_at".into(), s(ts(approval.expires_at))),
        ("votes".into(), AttributeValue::M(votes)),
    ]);
    if let Some(at) = approval.decided_at {
        item.insert("decided_at".into(), s(ts(at)));
    }
    if approval.status == ApprovalStatus::Pending {
        item.insert(GSI1PK.into(), s(PENDING_APPROVALS));
        item.insert(
            GSI1SK.into(),
            s(format!("{}#{}", ts(approval.created_at), approval.id)),
        );
    }
    item
}

/// The status as stored: the JSON string of the enum (`"pending"`).
pub fn approval_status_attr(status: ApprovalStatus) -> AttributeValue {
    json_attr(&status)
}

pub fn approval_from_item(item: &Item) -> Result<Approval, StoreError> {
    let r = Reader(item);
    let mut votes = match item.get("votes") {
        Some(AttributeValue::M(map)) => map
            .values()
            .map(|v| match v {
                AttributeValue::S(json) => {
                    serde_json::from_str::<Vote>(json).map_err(|e| corrupt("votes", e))
                }
                _ => Err(corrupt("votes", "not a string")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => Vec::new(),
    };
    votes.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.reviewer.cmp(&b.reviewer)));
    Ok(Approval {
        id: ApprovalId(r.str("id")?.to_string()),
        run_id: RunId(r.str("run_id")?.to_string()),
        workflow: r.str("workflow")?.to_string(),
        task_token: TaskToken::new(r.str("task_token")?),
        reviewers: r.json("reviewers")?,
        required: usize::try_from(r.number("required")?).map_err(|e| corrupt("required", e))?,
        status: r.json("status")?,
        escalation: r.bool("escalation")?,
        created_at: r.time("created_at")?,
        expires_at: r.time("link_expires_at")?,
        votes,
        decided_at: r.opt_time("decided_at")?,
    })
}

/// A page position: the index sort key (`<created_at>#<id>`) of the last
/// item returned. One string serves every index query and the merge across
/// statuses, and stays valid when a run moves between status partitions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    pub after: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(self).expect("cursor serialises"))
    }

    /// A cursor that does not decode names no page: `NotFound`.
    pub fn decode(text: &str) -> Result<Self, StoreError> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(|_| StoreError::NotFound(format!("page cursor `{text}`")))?;
        serde_json::from_slice(&bytes)
            .map_err(|_| StoreError::NotFound(format!("page cursor `{text}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use handoff_core::ports::Slot;

    fn at(text: &str) -> DateTime<Utc> {
        parse_time(text).unwrap()
    }

    fn run(sender: Option<&str>) -> Run {
        Run {
            id: RunId("run-abc".into()),
            workflow: "support-triage".into(),
            status: RunStatus::AwaitingApproval,
            stage: Stage::Approval,
            delivery_id: "evt_1".into(),
            sender: sender.map(str::to_string),
            created_at: at("2025-03-01T10:00:00.123456Z"),
            updated_at: at("2025-03-01T10:05:00Z"),
            summary: RunSummary {
                label: Some("refund".into()),
                confidence: Some(0.91),
                route: Some("billing".into()),
                reviewed: false,
                error: None,
            },
        }
    }

    fn approval(status: ApprovalStatus) -> Approval {
        let vote = |reviewer: &str, secs: u32| Vote {
            reviewer: reviewer.into(),
            verdict: Verdict::Approve,
            reason: "ok".into(),
            edits: Some(serde_json::json!({ "draft": "hi" })),
            at: at(&format!("2025-03-01T10:06:{secs:02}Z")),
        };
        Approval {
            id: ApprovalId("a1b2".into()),
            run_id: RunId("run-abc".into()),
            workflow: "support-triage".into(),
            task_token: TaskToken::new("token"),
            reviewers: vec!["zed@example.com".into(), "ana@example.com".into()],
            required: 2,
            status,
            escalation: false,
            created_at: at("2025-03-01T10:05:00Z"),
            expires_at: at("2025-03-02T10:05:00Z"),
            votes: vec![vote("zed@example.com", 1), vote("ana@example.com", 2)],
            decided_at: None,
        }
    }

    fn string(item: &Item, name: &str) -> String {
        Reader(item).str(name).unwrap().to_string()
    }

    #[test]
    fn run_round_trips_with_its_index_keys() {
        let original = run(Some("cust@example.com"));
        let item = run_item(&original);
        assert_eq!(string(&item, PK), "RUN#run-abc");
        assert_eq!(string(&item, SK), "META");
        assert_eq!(string(&item, GSI1PK), "STATUS#AWAITING_APPROVAL");
        assert_eq!(string(&item, GSI1SK), "2025-03-01T10:00:00.123456Z#run-abc");
        assert_eq!(
            string(&item, GSI2PK),
            "SENDER#support-triage#cust@example.com"
        );
        assert_eq!(string(&item, GSI2SK), string(&item, GSI1SK));
        assert_eq!(run_from_item(&item).unwrap(), original);
    }

    #[test]
    fn run_without_sender_stays_out_of_the_sender_index() {
        let original = run(None);
        let item = run_item(&original);
        assert!(!item.contains_key(GSI2PK) && !item.contains_key("sender"));
        assert_eq!(run_from_item(&item).unwrap(), original);
    }

    #[test]
    fn a_corrupt_item_names_the_attribute() {
        let mut item = run_item(&run(None));
        item.insert("status".into(), s("SLEEPING"));
        let err = run_from_item(&item).unwrap_err();
        assert!(err.to_string().contains("status"), "{err}");
    }

    #[test]
    fn every_stage_name_parses_back() {
        for stage in [
            Stage::Ingest,
            Stage::Start,
            Stage::Context,
            Stage::Reason,
            Stage::Decide,
            Stage::Approval,
            Stage::Act,
            Stage::Finalize,
        ] {
            assert_eq!(parse_stage(stage.as_str()), Some(stage));
        }
    }

    #[test]
    fn timestamps_sort_as_strings() {
        let early = ts(at("2025-03-01T10:00:00Z"));
        let later = ts(at("2025-03-01T10:00:00.5Z"));
        assert_eq!(early.len(), later.len());
        assert!(early < later);
    }

    #[test]
    fn approval_round_trips_with_votes_in_time_order() {
        let original = approval(ApprovalStatus::Pending);
        let item = approval_item(&original);
        assert_eq!(string(&item, PK), "APPROVAL#a1b2");
        assert_eq!(string(&item, GSI1PK), PENDING_APPROVALS);
        assert!(matches!(item.get("votes"), Some(AttributeValue::M(m)) if m.len() == 2));
        assert_eq!(approval_from_item(&item).unwrap(), original);
    }

    #[test]
    fn decided_approval_is_not_listed_as_pending() {
        let mut original = approval(ApprovalStatus::Approved);
        original.decided_at = Some(at("2025-03-01T10:07:00Z"));
        let item = approval_item(&original);
        assert!(!item.contains_key(GSI1PK) && !item.contains_key(GSI1SK));
        assert_eq!(approval_from_item(&item).unwrap(), original);
    }

    #[test]
    fn approval_expiry_is_not_the_tables_ttl_attribute() {
        let item = approval_item(&approval(ApprovalStatus::Pending));
        assert!(!item.contains_key("expires_at"));
    }

    #[test]
    fn stored_status_matches_the_condition_value() {
        let item = approval_item(&approval(ApprovalStatus::Pending));
        assert_eq!(
            item.get("status"),
            Some(&approval_status_attr(ApprovalStatus::Pending))
        );
    }

    #[test]
    fn dedupe_key_expires_by_epoch_seconds() {
        let key = DedupeKey {
            workflow: "support-triage".into(),
            delivery_id: "evt_1".into(),
            expires_at: at("2025-03-04T00:00:00Z"),
            body_hash: None,
            business_key: None,
        };
        let item = dedupe_item(&key.workflow, &key.claims()[0], &RunId("run-abc".into()));
        assert_eq!(string(&item, PK), "DEDUPE#support-triage#evt_1");
        assert_eq!(string(&item, "run_id"), "run-abc");
        assert_eq!(Reader(&item).number("expires_at").unwrap(), 1_741_046_400);
    }

    /// DynamoDB's item size: attribute names and values.
    fn item_bytes(item: &Item) -> usize {
        item.iter()
            .map(|(name, value)| {
                name.len()
                    + match value {
                        AttributeValue::S(v) | AttributeValue::N(v) => v.len(),
                        AttributeValue::B(b) => b.as_ref().len(),
                        _ => 8,
                    }
            })
            .sum()
    }

    #[test]
    fn an_incompressible_event_at_the_body_limit_fits_items_and_reads_back() {
        use base64::engine::general_purpose::STANDARD;
        // Random bytes as base64 fill the whole body, and the spec maps the
        // same string to a field: the event holds it twice.
        let raw: Vec<u8> = (0..handoff_core::trigger::MAX_BODY_BYTES * 3 / 4 - 16)
            .map(|_| rand::random::<u8>())
            .collect();
        let text = STANDARD.encode(raw);
        let event = CanonicalEvent {
            workflow: "support-triage".into(),
            delivery_id: "d-1".into(),
            received_at: at("2026-01-15T09:30:00Z"),
            fields: [("text".to_string(), serde_json::json!(text))].into(),
            payload: serde_json::json!({ "t": text }),
            documents: Vec::new(),
        };
        assert!(
            serde_json::to_vec(&event.payload).unwrap().len()
                <= handoff_core::trigger::MAX_BODY_BYTES
        );
        let items = event_items(&RunId("run-abc".into()), &event);
        assert!(items.len() > 1, "split: {} item(s)", items.len());
        for item in &items {
            assert!(item_bytes(item) < 400_000, "{} bytes", item_bytes(item));
        }
        assert_eq!(event_parts(&items[0]).unwrap(), items.len());
        assert_eq!(event_from_items(&items).unwrap(), event);
    }

    #[test]
    fn an_event_stored_before_compression_still_reads() {
        let event = CanonicalEvent {
            workflow: "support-triage".into(),
            delivery_id: "d-1".into(),
            received_at: at("2026-01-15T09:30:00Z"),
            fields: Default::default(),
            payload: serde_json::json!({ "a": 1 }),
            documents: Vec::new(),
        };
        let old = Item::from([
            (PK.into(), s("RUN#run-abc")),
            (SK.into(), s(EVENT_SK)),
            ("event".into(), json_attr(&event)),
        ]);
        assert_eq!(event_parts(&old).unwrap(), 1);
        assert_eq!(event_from_items(&[old]).unwrap(), event);
    }

    #[test]
    fn a_long_sender_is_keyed_by_its_hash() {
        let long = "s".repeat(5000);
        let pk = sender_pk("support-triage", &long);
        assert!(pk.len() < 200, "{pk}");
        assert_ne!(pk, sender_pk("support-triage", &"s".repeat(4999)));
        assert_eq!(
            sender_pk("w", "ana@example.com"),
            "SENDER#w#ana@example.com"
        );
    }

    #[test]
    fn a_business_key_claim_never_expires() {
        let key = DedupeKey {
            workflow: "invoice-approval".into(),
            delivery_id: "d-1".into(),
            expires_at: at("2025-03-04T00:00:00Z"),
            body_hash: Some("sha256:ab".into()),
            business_key: Some("sha256:cd".into()),
        };
        let items: Vec<Item> = key
            .claims()
            .iter()
            .map(|c| dedupe_item(&key.workflow, c, &RunId("run-abc".into())))
            .collect();
        let pks: Vec<String> = items.iter().map(|i| string(i, PK)).collect();
        assert_eq!(
            pks,
            [
                "DEDUPE#invoice-approval#d-1",
                "DEDUPE#invoice-approval#body#sha256:ab",
                "DEDUPE#invoice-approval#key#sha256:cd"
            ]
        );
        assert!(items[1].contains_key("expires_at"));
        assert!(!items[2].contains_key("expires_at"));
    }

    #[test]
    fn a_cached_answer_is_kept_under_its_key_until_its_ttl() {
        let answer = CachedAnswer {
            value: serde_json::json!({ "label": "refund", "confidence": 0.9 }),
            model: "anthropic.claude-test".into(),
            usage: handoff_core::ports::ModelUsage {
                input_tokens: 100,
                output_tokens: 20,
                latency_ms: 250,
            },
        };
        let expires_at = at("2025-03-04T00:00:00Z");
        let item = cache_item("ab12", &answer, expires_at);
        assert_eq!(string(&item, PK), "CACHE#ab12");
        assert_eq!(string(&item, SK), META);
        assert_eq!(Reader(&item).number("expires_at").unwrap(), 1_741_046_400);
        let before = at("2025-03-03T23:59:59Z");
        assert_eq!(
            cached_answer_from_item(&item, before).unwrap(),
            Some(answer)
        );
        assert_eq!(cached_answer_from_item(&item, expires_at).unwrap(), None);
    }

    #[test]
    fn a_days_ledger_item_outlives_its_day_by_three_days() {
        let day = NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
        assert_eq!(budget_pk("support-triage"), "BUDGET#support-triage");
        assert_eq!(day_sk(day), "2025-03-01");
        assert_eq!(
            ledger_expires_at(day),
            at("2025-03-04T00:00:00Z").timestamp()
        );
    }

    #[test]
    fn json_payload_items_round_trip() {
        let id = RunId("run-abc".into());
        let value = serde_json::json!({ "profile": { "tier": "gold" } });
        let item = slot_item(&id, &Slot::Action("ticket".into()), &value);
        assert_eq!(string(&item, SK), "SLOT#action#ticket");
        assert_eq!(
            Reader(&item).json::<serde_json::Value>("value").unwrap(),
            value
        );

        let event = AuditEvent::new(
            &id,
            at("2025-03-01T10:00:00Z"),
            Stage::Reason,
            "ai.classified",
            serde_json::json!({ "label": "refund" }),
        );
        let item = audit_item(&event, "0000beef");
        assert_eq!(
            string(&item, SK),
            "EVT#2025-03-01T10:00:00.000000Z#0000beef"
        );
        assert_eq!(Reader(&item).json::<AuditEvent>("event").unwrap(), event);

        let feedback = Feedback {
            workflow: "support-triage".into(),
            run_id: id,
            at: at("2025-03-01T11:00:00Z"),
            text: "refund please".into(),
            predicted_label: "refund".into(),
            confidence: 0.6,
            final_label: "billing".into(),
            edits: None,
            reviewer: "ana@example.com".into(),
            status: FeedbackStatus::Confirmed,
        };
        let item = feedback_item(&feedback);
        assert_eq!(string(&item, PK), "FEEDBACK#support-triage");
        assert_eq!(string(&item, SK), "BY#run-abc#ana@example.com");
        assert_eq!(string(&item, GSI1PK), "FEEDBACK#support-triage");
        assert_eq!(
            string(&item, GSI1SK),
            "2025-03-01T11:00:00.000000Z#run-abc#ana@example.com"
        );
        assert_eq!(
            Reader(&item).json::<Feedback>("feedback").unwrap(),
            feedback
        );
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let cursor = Cursor {
            after: "2025-03-01T10:00:00.000000Z#run-abc".into(),
        };
        let text = cursor.encode();
        assert!(text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(Cursor::decode(&text).unwrap(), cursor);
        assert!(matches!(
            Cursor::decode("not a cursor!"),
            Err(StoreError::NotFound(_))
        ));
    }
}
