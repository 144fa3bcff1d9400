//! Checks of `reason:`: task names, each kind's settings, field schemas,
//! `when:` conditions and the tiers a task asks.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use crate::rules::CompiledRule;
use crate::task::*;
use crate::validate::Problems;

pub(crate) fn check_reason(reason: &ReasonSpec, p: &mut Problems) {
    if reason.tasks().is_empty() {
        p.add("reason", "at least one AI task is needed");
    }
    let mut earlier: BTreeSet<&str> = BTreeSet::new();
    for (i, task) in reason.tasks().iter().enumerate() {
        let at = format!("reason[{i}]");
        check_name(&at, &task.name, &earlier, p);
        if let Some(when) = &task.when {
            check_when(&format!("{at}.when"), when, &earlier, reason, p);
        }
        check_models(&at, task, p);
        check_documents(&at, task, p);
        if task.max_chars == 0 {
            p.add(format!("{at}.max_chars"), "must be positive");
        }
        match &task.kind {
            TaskKind::Classify(c) => check_classify(&at, c, p),
            TaskKind::Extract(e) => check_extract(&at, e, p),
            TaskKind::Summarize(s) => {
                if s.max_words == 0 {
                    p.add(format!("{at}.max_words"), "must be positive");
                }
            }
            TaskKind::Draft(d) => {
                if d.template.is_none() && task.models.is_empty() {
                    p.add(
                        &at,
                        "a draft task needs a `template`, an LLM tier in `models`, or both",
                    );
                }
            }
        }
        if let TaskFailure::Default(value) = &task.on_failure {
            check_default(&format!("{at}.on_failure.default"), task, value, p);
        }
        earlier.insert(&task.name);
    }
}

fn check_name(at: &str, name: &str, earlier: &BTreeSet<&str>, p: &mut Problems) {
    static IDENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z][a-z0-9_]*$").unwrap());
    if !IDENT.is_match(name) {
        p.add(
            format!("{at}.name"),
            format!("`{name}` must be lower_snake_case: rules read it as `ai.{name}`"),
        );
    }
    if RESERVED_AI_NAMES.contains(&name) {
        p.add(
            format!("{at}.name"),
            format!("`{name}` is reserved under `ai`"),
        );
    }
    if earlier.contains(name) {
        p.add(format!("{at}.name"), format!("duplicate task `{name}`"));
    }
}

fn check_when(at: &str, when: &str, earlier: &BTreeSet<&str>, r: &ReasonSpec, p: &mut Problems) {
    if let Err(e) = CompiledRule::compile("when", when) {
        p.add(at, format!("invalid CEL: {e}"));
        return;
    }
    for name in ai_names_in(when) {
        if RESERVED_AI_NAMES.contains(&name.as_str()) {
            continue;
        }
        if !earlier.contains(name.as_str()) {
            let why = if r.task(&name).is_some() {
                format!("`ai.{name}` runs after this task; a condition reads earlier tasks only")
            } else {
                unknown_task(&name)
            };
            p.add(at, why);
        }
    }
}

pub(crate) fn unknown_task(name: &str) -> String {
    match name {
        "label" | "confidence" | "fields" | "draft" | "rationale" | "tier" => format!(
            "`ai.{name}` is the old single-task shape; results are at `ai.<task>` now \
             (e.g. `ai.<classify task>.label`, `ai.<extract task>.<field>`, `ai.<draft task>.text`)"
        ),
        _ => format!("`ai.{name}` names no AI task"),
    }
}

/// The task names an expression reads as `ai.<name>`.
pub(crate) fn ai_names_in(expr: &str) -> BTreeSet<String> {
    static AI: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\bai\.([A-Za-z_][A-Za-z0-9_]*)").unwrap());
    AI.captures_iter(expr).map(|c| c[1].to_string()).collect()
}

fn check_models(at: &str, task: &TaskSpec, p: &mut Problems) {
    static IDENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z][a-z0-9_-]*$").unwrap());
    let mut seen = BTreeSet::new();
    for (j, model) in task.models.iter().enumerate() {
        let at = format!("{at}.models[{j}]");
        if !IDENT.is_match(model) {
            p.add(&at, format!("`{model}` is not a model name"));
        }
        if !seen.insert(model) {
            p.add(&at, format!("`{model}` is listed twice"));
        }
        if model == EMBEDDED_TIER && matches!(task.kind, TaskKind::Draft(_)) {
            p.add(
                &at,
                "the embedded tier writes no drafts: the task's `template` is its no-LLM draft",
            );
        }
    }
    if task.models.is_empty() && !matches!(task.kind, TaskKind::Draft(_)) {
        p.add(format!("{at}.models"), "at least one model tier is needed");
    }
}

/// Documents as pages are for LLM tiers: a task the embedded tier alone
/// answers would never send them, which an author would not expect.
fn check_documents(at: &str, task: &TaskSpec, p: &mut Problems) {
    let asks_llm = task.models.iter().any(|m| m != EMBEDDED_TIER);
    if task.documents == DocumentView::Pages && !asks_llm {
        p.add(
            format!("{at}.documents"),
            "`pages` is for LLM tiers, and `models` names none: the embedded tier reads the \
             documents' text",
        );
    }
}

fn check_classify(at: &str, c: &ClassifyTask, p: &mut Problems) {
    if c.labels.len() < 2 {
        p.add(
            format!("{at}.labels"),
            "a classifier needs at least two labels",
        );
    }
    let mut seen = BTreeSet::new();
    for (i, label) in c.labels.iter().enumerate() {
        if !seen.insert(label.name.as_str()) {
            p.add(
                format!("{at}.labels[{i}].name"),
                format!("duplicate label `{}`", label.name),
            );
        }
        if label.examples.is_empty() {
            p.add(
                format!("{at}.labels[{i}].examples"),
                "each label needs at least one example",
            );
        }
    }
    for (key, value) in [("review_below", c.review_below), ("accept_at", c.accept_at)] {
        if !(0.0..=1.0).contains(&value) {
            p.add(format!("{at}.{key}"), "must be between 0 and 1");
        }
    }
}

fn check_extract(at: &str, e: &ExtractTask, p: &mut Problems) {
    if e.fields.is_empty() {
        p.add(format!("{at}.fields"), "at least one field is needed");
    }
    for (name, field) in &e.fields {
        check_field(&format!("{at}.fields.{name}"), field, p);
    }
    if let Err(err) = jsonschema::validator_for(&e.json_schema()) {
        p.add(format!("{at}.fields"), format!("not a valid schema: {err}"));
    }
    for (i, name) in e.required.iter().enumerate() {
        if !e.fields.contains_key(name) {
            p.add(
                format!("{at}.required[{i}]"),
                format!("`{name}` is not one of the task's fields"),
            );
        }
    }
}

fn check_field(at: &str, f: &FieldSchema, p: &mut Problems) {
    let scalar = matches!(
        f.ty,
        FieldType::String | FieldType::Number | FieldType::Integer | FieldType::Boolean
    );
    if f.one_of.is_some() && !scalar {
        p.add(format!("{at}.enum"), "`enum` applies to scalar fields only");
    }
    if let Some(values) = &f.one_of {
        if values.is_empty() {
            p.add(format!("{at}.enum"), "needs at least one value");
        }
    }
    if f.format.is_some() && f.ty != FieldType::String {
        p.add(format!("{at}.format"), "`format` applies to strings only");
    }
    let numeric = matches!(f.ty, FieldType::Number | FieldType::Integer);
    if (f.minimum.is_some() || f.maximum.is_some()) && !numeric {
        p.add(at, "`minimum` and `maximum` apply to numbers only");
    }
    match (f.ty, &f.items) {
        (FieldType::Array, None) => p.add(format!("{at}.items"), "an array needs `items`"),
        (FieldType::Array, Some(items)) => check_field(&format!("{at}.items"), items, p),
        (_, Some(_)) => p.add(format!("{at}.items"), "`items` applies to arrays only"),
        _ => {}
    }
    if f.ty != FieldType::Object && (!f.properties.is_empty() || !f.required.is_empty()) {
        p.add(at, "`properties` and `required` apply to objects only");
    }
    if f.ty == FieldType::Object && f.properties.is_empty() {
        p.add(format!("{at}.properties"), "an object needs `properties`");
    }
    for (name, field) in &f.properties {
        check_field(&format!("{at}.properties.{name}"), field, p);
    }
    for name in &f.required {
        if !f.properties.contains_key(name) {
            p.add(
                format!("{at}.required"),
                format!("`{name}` is not one of the object's properties"),
            );
        }
    }
    if let Some(pattern) = f.embedded {
        let fits = match pattern {
            Pattern::Money => matches!(f.ty, FieldType::Number | FieldType::Object),
            Pattern::LineItems => f.ty == FieldType::Array,
            _ => f.ty == FieldType::String,
        };
        if !fits {
            p.add(
                format!("{at}.embedded"),
                "money fills a number or a `{value, currency}` object, line_items an array; the other patterns fill strings",
            );
        }
    }
}

fn check_default(at: &str, task: &TaskSpec, value: &serde_json::Value, p: &mut Problems) {
    let schema = task.answer_schema();
    match jsonschema::validator_for(&schema) {
        Ok(v) => {
            if let Some(e) = v.iter_errors(value).next() {
                p.add(at, format!("does not match the task's answer schema: {e}"));
            }
        }
        Err(e) => p.add(at, format!("the task's schema does not compile: {e}")),
    }
}
