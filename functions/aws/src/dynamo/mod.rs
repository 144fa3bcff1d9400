//! The run store on one DynamoDB table (DESIGN §3). Every status change is a
//! conditional write; nothing is read-modify-written.
//!
//! Items (PK / SK):
//! - run `RUN#<id>` / `META`, indexed by status (`ByStatus`: `STATUS#<status>`,
//!   `<created_at>#<id>`) and, when it has one, sender (`BySender`:
//!   `SENDER#<workflow>#<sender>`, `<created_at>#<id>`)
//! - event `RUN#<id>` / `EVENT`, slots `RUN#<id>` / `SLOT#<key>`, audit
//!   `RUN#<id>` / `EVT#<ts>#<random>`
//! - approval `APPROVAL#<id>` / `META` (in `ByStatus` as `APPROVAL#pending`
//!   while pending, then as `APPROVAL#undelivered` while its reviewers'
//!   decision waits to reach the task) and a pointer `RUN#<run>` / `APPROVAL#<created_at>#<id>`
//! - dedupe `DEDUPE#<workflow>#<claim key>` / `META` with TTL `expires_at`
//!   (none on a business key's, `key#<hash>`, which is kept forever)
//! - feedback `FEEDBACK#<workflow>` / `BY#<run id>#<reviewer>` (one per run
//!   and reviewer), newest first through `ByStatus` (`FEEDBACK#<workflow>`,
//!   `<ts>#<run id>#<reviewer>`); items written before that are
//!   `FEEDBACK#<workflow>` / `<ts>#<run id>` and are still listed
//! - cached model answer `CACHE#<key>` / `META` with TTL `expires_at`
//! - revoked reviewer token `TOKEN#<id>` / `META` with TTL `expires_at` at
//!   the token's own expiry
//! - tokens spent `BUDGET#<workflow>` / `<YYYY-MM-DD>` (a number added to
//!   with `ADD`) with TTL `expires_at` a few days after the day
//! - trained models `MODEL#<workflow>#<task>` / `LATEST` and `V#<version>#<part>`
//!   (see `models.rs`)

pub mod codec;
mod models;
mod reviews;
#[cfg(feature = "moto-tests")]
pub mod testing;

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem,
};
use chrono::{DateTime, NaiveDate, Utc};
use handoff_core::domain::*;
use handoff_core::ports::*;

use codec::*;

pub struct DynamoStore {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
}

impl DynamoStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(aws_sdk_dynamodb::Client::new(config), table)
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    async fn put(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// An UpdateItem on the item at (`pk`, `sk`), to be given its
    /// condition and expressions.
    fn update(&self, pk: String, sk: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
    }

    fn put_tx(&self, item: Item, condition: Option<&str>) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// All items of one partition whose sort key starts with `prefix`, in
    /// sort-key order.
    async fn query_prefix(
        &self,
        pk: String,
        prefix: &str,
        ascending: bool,
        limit: Option<usize>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(pk.clone()));
            request = if prefix.is_empty() {
                request.key_condition_expression("#pk = :pk")
            } else {
                request
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":prefix", s(prefix))
            };
            let out = request
                .scan_index_forward(ascending)
                .consistent_read(true)
                .set_limit(limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX)))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            items.extend(out.items.unwrap_or_default());
            if limit.is_some_and(|l| items.len() >= l) {
                items.truncate(limit.unwrap_or(usize::MAX));
                return Ok(items);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// Up to `want` items of one index partition past `after` (exclusive) in
    /// the given direction, applying `filter` and reading on until `want`
    /// items passed it or the partition ends.
    async fn query_index(&self, q: IndexQuery<'_>, want: usize) -> Result<Vec<Item>, StoreError> {
        let (pk_attr, sk_attr) = match q.index {
            BY_SENDER => (GSI2PK, GSI2SK),
            _ => (GSI1PK, GSI1SK),
        };
        let mut key_condition = "#ipk = :ipk".to_string();
        let mut values: HashMap<String, AttributeValue> =
            HashMap::from([(":ipk".to_string(), s(q.partition.clone()))]);
        if let Some(after) = q.after {
            key_condition.push_str(if q.ascending {
                " AND #isk > :after"
            } else {
                " AND #isk < :after"
            });
            values.insert(":after".into(), s(after));
        }
        let mut names = HashMap::from([
            ("#ipk".to_string(), pk_attr.to_string()),
            ("#isk".to_string(), sk_attr.to_string()),
        ]);
        let mut filters = Vec::new();
        for (i, (attr, value)) in q.filters.iter().enumerate() {
            names.insert(format!("#f{i}"), attr.to_string());
            values.insert(format!(":f{i}"), s(value.clone()));
            filters.push(format!("#f{i} = :f{i}"));
        }
        if q.after.is_none() {
            names.remove("#isk");
        }
        let filter = (!filters.is_empty()).then(|| filters.join(" AND "));

        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(q.index)
                .key_condition_expression(&key_condition)
                .set_filter_expression(filter.clone())
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(q.ascending)
                .limit(i32::try_from(want).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            items.extend(out.items.unwrap_or_default());
            if items.len() >= want {
                items.truncate(want);
                return Ok(items);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// Fresh copies of items by key, in the order of `keys`.
    async fn batch_get(&self, keys: Vec<(String, String)>) -> Result<Vec<Item>, StoreError> {
        let mut found: HashMap<(String, String), Item> = HashMap::new();
        for chunk in keys.chunks(100) {
            let mut pending: Vec<Item> = chunk
                .iter()
                .map(|(pk, sk)| Item::from([(PK.into(), s(pk)), (SK.into(), s(sk))]))
                .collect();
            // Unprocessed keys come back under throttling; a few rounds with
            // the SDK's own retries underneath are enough.
            for _ in 0..5 {
                if pending.is_empty() {
                    break;
                }
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(unavailable)?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    let r = Reader(&item);
                    let key = (r.str(PK)?.to_string(), r.str(SK)?.to_string());
                    found.insert(key, item);
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(StoreError::Unavailable(
                    "batch read left keys unprocessed".into(),
                ));
            }
        }
        Ok(keys.into_iter().filter_map(|k| found.remove(&k)).collect())
    }
}

struct IndexQuery<'a> {
    index: &'static str,
    partition: String,
    after: Option<&'a str>,
    ascending: bool,
    /// Attribute = value conditions applied after the key condition.
    filters: Vec<(&'static str, String)>,
}

fn unavailable<E>(err: SdkError<E>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    StoreError::Unavailable(DisplayErrorContext(&err).to_string())
}

/// For a conditional update that failed: the item as it was (requested with
/// `ReturnValuesOnConditionCheckFailure::AllOld`) tells a conflict from a
/// missing item.
impl DynamoStore {
    /// One page of the approvals under `partition` of the status index,
    /// in its sort order (oldest first).
    async fn approvals_indexed(
        &self,
        partition: &str,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<Page<Approval>, StoreError> {
        let limit = page_limit(limit);
        let cursor = cursor.as_deref().map(Cursor::decode).transpose()?;
        let q = IndexQuery {
            index: BY_STATUS,
            partition: partition.to_string(),
            after: cursor.as_ref().map(|c| c.after.as_str()),
            ascending: true,
            filters: Vec::new(),
        };
        let items = self.query_index(q, limit + 1).await?;
        let (items, next) = paginate(items, limit, GSI1SK)?;
        Ok(Page {
            items: items
                .iter()
                .map(approval_from_item)
                .collect::<Result<_, _>>()?,
            next,
        })
    }
}

/// Sends a conditional update asking for the item as it was when the
/// condition fails, so a conflict names the status it met.
async fn send_conditional(
    request: UpdateItemFluentBuilder,
    what: &str,
) -> Result<UpdateItemOutput, StoreError> {
    request
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .map_err(|e| conditional_failure(e, what))
}

fn conditional_failure(
    err: SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError>,
    what: &str,
) -> StoreError {
    use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
    match err.as_service_error() {
        Some(UpdateItemError::ConditionalCheckFailedException(e)) => match e.item() {
            Some(old) if !old.is_empty() => {
                let status = Reader(old).opt_str("status").unwrap_or("?").to_string();
                StoreError::Conflict(format!("{what} is {status}"))
            }
            _ => StoreError::NotFound(what.to_string()),
        },
        _ => unavailable(err),
    }
}

fn page_limit(limit: usize) -> usize {
    if limit == 0 {
        50
    } else {
        limit
    }
}

/// Takes one page from items sorted in page order; the cursor is the sort
/// key of the page's last item when more follow.
fn paginate(
    mut items: Vec<Item>,
    limit: usize,
    sort_attr: &str,
) -> Result<(Vec<Item>, Option<String>), StoreError> {
    let more = items.len() > limit;
    items.truncate(limit);
    let next = match (more, items.last()) {
        (true, Some(last)) => Some(
            Cursor {
                after: Reader(last).str(sort_attr)?.to_string(),
            }
            .encode(),
        ),
        _ => None,
    };
    Ok((items, next))
}

/// Keeps two audit entries of one instant apart: a count of this process's
/// entries, so that one stage's entries of the same microsecond come back in
/// the order it wrote them, then random bits, so that two processes' entries
/// never share a key.
fn audit_suffix() -> String {
    static WRITTEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITTEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{n:012x}{:08x}", rand::random::<u32>())
}

#[async_trait]
impl Runs for DynamoStore {
    async fn create_run(
        &self,
        run: &Run,
        event: &CanonicalEvent,
        dedupe: &DedupeKey,
        received: &AuditEvent,
    ) -> Result<Created, StoreError> {
        // A dedupe item past its expiry may linger until TTL deletes it; it
        // no longer counts. A claim kept forever has no `expires_at`.
        let claims = dedupe.claims();
        let mut request = self.client.transact_write_items();
        for claim in &claims {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(dedupe_item(&dedupe.workflow, claim, &run.id)))
                .condition_expression("attribute_not_exists(PK) OR expires_at < :now")
                .expression_attribute_values(":now", n(Utc::now().timestamp()))
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            request = request.transact_items(TransactWriteItem::builder().put(put).build());
        }
        request =
            request.transact_items(self.put_tx(run_item(run), Some("attribute_not_exists(PK)"))?);
        for item in event_items(&run.id, event) {
            request = request.transact_items(self.put_tx(item, None)?);
        }
        let result = request
            .transact_items(self.put_tx(audit_item(received, &audit_suffix()), None)?)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Created::New),
            Err(err) => err,
        };
        let reasons = err
            .as_service_error()
            .and_then(|e| match e {
                aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => {
                    Some(c.cancellation_reasons().to_vec())
                }
                _ => None,
            })
            .unwrap_or_default();
        let code = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
        if let Some(taken) = (0..claims.len()).find(|&i| code(i) == "ConditionalCheckFailed") {
            let item = self
                .get(dedupe_pk(&dedupe.workflow, &claims[taken]), META)
                .await?
                .ok_or_else(|| StoreError::Conflict("dedupe key vanished; retry".into()))?;
            let existing = RunId(Reader(&item).str("run_id")?.to_string());
            return Ok(Created::Duplicate(existing));
        }
        if code(claims.len()) == "ConditionalCheckFailed" {
            return Err(StoreError::Conflict(format!("run {} exists", run.id)));
        }
        Err(unavailable(err))
    }

    /// The item `create_run` writes for the key, put on the same condition;
    /// a refused put reads who holds it.
    async fn claim_business_key(
        &self,
        workflow: &str,
        key: &str,
        run: &RunId,
    ) -> Result<RunId, StoreError> {
        use aws_sdk_dynamodb::operation::put_item::PutItemError;
        let claim = DedupeClaim::business_key(key);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(dedupe_item(workflow, &claim, run)))
            .condition_expression("attribute_not_exists(PK) OR expires_at < :now")
            .expression_attribute_values(":now", n(Utc::now().timestamp()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(run.clone()),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => {
                    let item = self
                        .get(dedupe_pk(workflow, &claim), META)
                        .await?
                        .ok_or_else(|| StoreError::Conflict("dedupe key vanished; retry".into()))?;
                    Ok(RunId(Reader(&item).str("run_id")?.to_string()))
                }
                _ => Err(unavailable(err)),
            },
        }
    }

    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        self.get(run_pk(id), META)
            .await?
            .map(|item| run_from_item(&item))
            .transpose()
    }

    async fn get_event(&self, id: &RunId) -> Result<Option<CanonicalEvent>, StoreError> {
        let Some(first) = self.get(run_pk(id), EVENT_SK).await? else {
            return Ok(None);
        };
        let parts = event_parts(&first)?;
        let mut items = vec![first];
        if parts > 1 {
            items.extend(
                self.query_prefix(run_pk(id), &format!("{EVENT_SK}#"), true, None)
                    .await?,
            );
            if items.len() != parts {
                return Err(StoreError::Unavailable(format!(
                    "event of {id}: {} of {parts} parts",
                    items.len()
                )));
            }
        }
        event_from_items(&items).map(Some)
    }

    async fn transition(
        &self,
        id: &RunId,
        from: &[RunStatus],
        to: RunStatus,
        stage: Stage,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if from.is_empty() {
            return Err(StoreError::Conflict(format!(
                "{id}: no status to move from"
            )));
        }
        let placeholders: Vec<String> = (0..from.len()).map(|i| format!(":from{i}")).collect();
        let mut request = self
            .update(run_pk(id), META)
            .condition_expression(format!("#status IN ({})", placeholders.join(", ")))
            .update_expression(
                "SET #status = :to, #stage = :stage, updated_at = :at, GSI1PK = :gsi1pk",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#stage", "stage")
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":stage", s(stage.as_str()))
            .expression_attribute_values(":at", s(ts(at)))
            .expression_attribute_values(":gsi1pk", s(status_pk(to)));
        for (p, status) in placeholders.iter().zip(from) {
            request = request.expression_attribute_values(p, s(status.as_str()));
        }
        send_conditional(request, &format!("run {id}")).await?;
        Ok(())
    }

    async fn update_summary(&self, id: &RunId, update: &SummaryUpdate) -> Result<(), StoreError> {
        let mut request = self
            .update(run_pk(id), META)
            .condition_expression("attribute_exists(PK)");
        let mut sets = Vec::new();
        for (i, (name, value)) in summary_attributes(update).into_iter().enumerate() {
            sets.push(format!("#f{i} = :f{i}"));
            request = request
                .expression_attribute_names(format!("#f{i}"), name)
                .expression_attribute_values(format!(":f{i}"), value);
        }
        if sets.is_empty() {
            // Nothing to set: only whether the run exists.
            return match self.get_run(id).await? {
                Some(_) => Ok(()),
                None => Err(StoreError::NotFound(format!("run {id}"))),
            };
        }
        request
            .update_expression(format!("SET {}", sets.join(", ")))
            .send()
            .await
            .map_err(|e| conditional_failure(e, &format!("run {id}")))?;
        Ok(())
    }

    /// Newest first. A status selects its `ByStatus` partition; a sender of a
    /// workflow without a status its `BySender` partition; otherwise every
    /// status partition is queried and merged (six queries, no scan). Other
    /// criteria are filter expressions, read on until the page is full.
    async fn list_runs(&self, query: &RunQuery) -> Result<Page<Run>, StoreError> {
        let limit = page_limit(query.limit);
        let cursor = query.cursor.as_deref().map(Cursor::decode).transpose()?;
        let after = cursor.as_ref().map(|c| c.after.as_str());
        let want = limit + 1;
        let mut filters = Vec::new();
        if let Some(w) = &query.workflow {
            filters.push(("workflow", w.clone()));
        }

        let (mut items, sort_attr) = match (query.status, &query.sender, &query.workflow) {
            (None, Some(sender), Some(workflow)) => {
                let q = IndexQuery {
                    index: BY_SENDER,
                    partition: sender_pk(workflow, sender),
                    after,
                    ascending: false,
                    filters: Vec::new(),
                };
                (self.query_index(q, want).await?, GSI2SK)
            }
            (status, sender, _) => {
                if let Some(sender) = sender {
                    filters.push(("sender", sender.clone()));
                }
                let statuses = match status {
                    Some(s) => vec![s],
                    None => RunStatus::ALL.to_vec(),
                };
                let mut merged = Vec::new();
                for status in statuses {
                    let q = IndexQuery {
                        index: BY_STATUS,
                        partition: status_pk(status),
                        after,
                        ascending: false,
                        filters: filters.clone(),
                    };
                    merged.extend(self.query_index(q, want).await?);
                }
                (merged, GSI1SK)
            }
        };
        items.sort_by(|a, b| {
            let key = |i: &Item| Reader(i).opt_str(sort_attr).unwrap_or_default().to_string();
            key(b).cmp(&key(a))
        });
        let (items, next) = paginate(items, limit, sort_attr)?;
        Ok(Page {
            items: items.iter().map(run_from_item).collect::<Result<_, _>>()?,
            next,
        })
    }
}

#[async_trait]
impl RunData for DynamoStore {
    async fn put_slot(
        &self,
        id: &RunId,
        slot: &Slot,
        value: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.put(slot_item(id, slot, value)).await
    }

    async fn get_slot(
        &self,
        id: &RunId,
        slot: &Slot,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        self.get(run_pk(id), &slot_sk(slot))
            .await?
            .map(|item| Reader(&item).json("value"))
            .transpose()
    }
}

#[async_trait]
impl AuditLog for DynamoStore {
    async fn append(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.put(audit_item(event, &audit_suffix())).await
    }

    async fn trail(&self, id: &RunId) -> Result<Vec<AuditEvent>, StoreError> {
        self.query_prefix(run_pk(id), "EVT#", true, None)
            .await?
            .iter()
            .map(|item| Reader(item).json("event"))
            .collect()
    }
}

#[async_trait]
impl Approvals for DynamoStore {
    /// The approval and its pointer under the run, together.
    async fn put_approval(&self, approval: &Approval) -> Result<(), StoreError> {
        let pointer = Item::from([
            (PK.into(), s(run_pk(&approval.run_id))),
            (SK.into(), s(approval_pointer_sk(approval))),
            ("approval_id".into(), s(approval.id.as_str())),
        ]);
        self.client
            .transact_write_items()
            .transact_items(self.put_tx(approval_item(approval), None)?)
            .transact_items(self.put_tx(pointer, None)?)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get_approval(&self, id: &ApprovalId) -> Result<Option<Approval>, StoreError> {
        self.get(approval_pk(id), META)
            .await?
            .map(|item| approval_from_item(&item))
            .transpose()
    }

    async fn record_vote(&self, id: &ApprovalId, vote: &Vote) -> Result<Approval, StoreError> {
        let json = serde_json::to_string(vote).expect("votes serialise");
        let request = self
            .update(approval_pk(id), META)
            .condition_expression("#status = :pending AND attribute_not_exists(votes.#r)")
            .update_expression("SET votes.#r = :vote")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#r", &vote.reviewer)
            .expression_attribute_values(":pending", approval_status_attr(ApprovalStatus::Pending))
            .expression_attribute_values(":vote", s(json))
            .return_values(ReturnValue::AllNew);
        let out = send_conditional(request, &format!("approval {id}")).await?;
        let item = out
            .attributes
            .ok_or_else(|| StoreError::Unavailable("vote returned no item".into()))?;
        approval_from_item(&item)
    }

    async fn close_approval(
        &self,
        id: &ApprovalId,
        to: ApprovalStatus,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Out of the pending index; a decision owed to the waiting task
        // moves the item to the undelivered one.
        let owes = matches!(to, ApprovalStatus::Approved | ApprovalStatus::Rejected);
        let mut update = self
            .update(approval_pk(id), META)
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", approval_status_attr(ApprovalStatus::Pending))
            .expression_attribute_values(":to", approval_status_attr(to))
            .expression_attribute_values(":at", s(ts(at)));
        update = if owes {
            update
                .update_expression(
                    "SET #status = :to, decided_at = :at, GSI1PK = :owed, GSI1SK = :sk",
                )
                .expression_attribute_values(":owed", s(UNDELIVERED_APPROVALS))
                .expression_attribute_values(":sk", s(format!("{}#{id}", ts(at))))
        } else {
            update.update_expression("SET #status = :to, decided_at = :at REMOVE GSI1PK, GSI1SK")
        };
        send_conditional(update, &format!("approval {id}")).await?;
        Ok(())
    }

    /// One Query for the run's pointers (newest first), then one consistent
    /// batch read of the approvals themselves, so votes and status are
    /// current rather than copied.
    async fn approvals_of_run(&self, run: &RunId) -> Result<Vec<Approval>, StoreError> {
        let pointers = self
            .query_prefix(run_pk(run), "APPROVAL#", false, None)
            .await?;
        let keys = pointers
            .iter()
            .map(|p| {
                Reader(p)
                    .str("approval_id")
                    .map(|id| (approval_pk(&ApprovalId(id.to_string())), META.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_get(keys)
            .await?
            .iter()
            .map(approval_from_item)
            .collect()
    }

    async fn pending_approvals(
        &self,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<Page<Approval>, StoreError> {
        self.approvals_indexed(PENDING_APPROVALS, limit, cursor)
            .await
    }

    async fn undelivered_approvals(
        &self,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<Page<Approval>, StoreError> {
        self.approvals_indexed(UNDELIVERED_APPROVALS, limit, cursor)
            .await
    }

    async fn mark_delivered(&self, id: &ApprovalId) -> Result<bool, StoreError> {
        let out = self
            .update(approval_pk(id), META)
            .condition_expression("GSI1PK = :owed")
            .update_expression("REMOVE GSI1PK, GSI1SK")
            .expression_attribute_values(":owed", s(UNDELIVERED_APPROVALS))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) => match conditional_failure(e, &format!("approval {id}")) {
                // Nothing owed: delivered before, or never decided by people.
                StoreError::Conflict(_) | StoreError::NotFound(_) => Ok(false),
                other => Err(other),
            },
        }
    }
}

#[async_trait]
impl RevokedTokens for DynamoStore {
    async fn revoke_token(&self, id: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
        self.put(Item::from([
            (PK.into(), s(revoked_token_pk(id))),
            (SK.into(), s(META)),
            // TTL: gone once the token could not be used anyway.
            ("expires_at".into(), n(until.timestamp())),
        ]))
        .await
    }

    async fn token_revoked(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.get(revoked_token_pk(id), META).await?.is_some())
    }
}

#[async_trait]
impl FeedbackLog for DynamoStore {
    async fn put_feedback(&self, feedback: &Feedback) -> Result<(), StoreError> {
        self.put(feedback_item(feedback)).await
    }

    async fn list_feedback(
        &self,
        workflow: &str,
        limit: usize,
    ) -> Result<Vec<Feedback>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let q = IndexQuery {
            index: BY_STATUS,
            partition: feedback_pk(workflow),
            after: None,
            ascending: false,
            filters: Vec::new(),
        };
        let mut items = self.query_index(q, limit).await?;
        // Items from before one-per-reviewer sort by time in the table
        // itself: `<ts>#<run id>`, below every `BY#` key.
        let legacy = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk < :by")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(feedback_pk(workflow)))
            .expression_attribute_values(":by", s(FEEDBACK_BY))
            .scan_index_forward(false)
            .set_limit(Some(i32::try_from(limit).unwrap_or(i32::MAX)))
            .send()
            .await
            .map_err(unavailable)?;
        items.extend(legacy.items.unwrap_or_default());
        let mut feedback: Vec<Feedback> = items
            .iter()
            .map(|item| Reader(item).json("feedback"))
            .collect::<Result<_, _>>()?;
        feedback.sort_by_key(|f| std::cmp::Reverse(f.at));
        feedback.truncate(limit);
        Ok(feedback)
    }
}

#[async_trait]
impl ModelCache for DynamoStore {
    async fn get_cached(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<CachedAnswer>, StoreError> {
        match self.get(cache_pk(key), META).await? {
            Some(item) => cached_answer_from_item(&item, now),
            None => Ok(None),
        }
    }

    async fn put_cached(
        &self,
        key: &str,
        answer: &CachedAnswer,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.put(cache_item(key, answer, expires_at)).await
    }
}

#[async_trait]
impl TokenLedger for DynamoStore {
    /// One `ADD`: DynamoDB applies concurrent adds one after another, so
    /// none is lost and each returns the total it made.
    async fn spend(&self, workflow: &str, day: NaiveDate, tokens: u64) -> Result<u64, StoreError> {
        let out = self
            .update(budget_pk(workflow), &day_sk(day))
            .update_expression("ADD tokens :n SET expires_at = :ttl")
            .expression_attribute_values(":n", n(tokens))
            .expression_attribute_values(":ttl", n(ledger_expires_at(day)))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(unavailable)?;
        let item = out
            .attributes
            .ok_or_else(|| StoreError::Unavailable("spend returned no total".into()))?;
        Ok(Reader(&item).number("tokens")?.max(0) as u64)
    }

    async fn spent(&self, workflow: &str, day: NaiveDate) -> Result<u64, StoreError> {
        match self.get(budget_pk(workflow), &day_sk(day)).await? {
            Some(item) => Ok(Reader(&item).number("tokens")?.max(0) as u64),
            None => Ok(0),
        }
    }
}
