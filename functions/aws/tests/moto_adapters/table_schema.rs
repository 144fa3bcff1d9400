//! The table the tests make is the table the template deploys: same keys,
//! indexes and TTL attribute. Read from template.yaml's text (its CFN tags
//! stop a plain YAML parser), so no moto is needed here.

use crate::support::{INDEXES, KEYS, TTL_ATTRIBUTE};

fn table_resource() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml is readable");
    let mut lines = text.lines().skip_while(|l| l.trim_end() != "  Table:");
    let first = lines.next().expect("template.yaml has a `Table` resource");
    let body: Vec<&str> = lines
        .take_while(|l| l.is_empty() || l.starts_with("   ") || l.trim_start().starts_with('#'))
        .collect();
    format!("{first}\n{}", body.join("\n"))
}

/// `{ AttributeName: X, KeyType: HASH }` in either flow or block style,
/// normalised to `X HASH`.
fn key_elements(block: &str) -> Vec<String> {
    let flat = block.replace(['{', '}', ','], " ");
    let words: Vec<&str> = flat.split_whitespace().collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if *w == "AttributeName:" {
            if let (Some(name), Some(&"KeyType:"), Some(kind)) =
                (words.get(i + 1), words.get(i + 2), words.get(i + 3))
            {
                out.push(format!("{name} {kind}"));
            }
        }
    }
    out
}

#[test]
fn template_table_has_the_keys_indexes_and_ttl_the_adapter_uses() {
    let table = table_resource();
    let (before_indexes, indexes) = table
        .split_once("GlobalSecondaryIndexes:")
        .expect("the table declares GlobalSecondaryIndexes");
    let key_schema = before_indexes
        .split_once("KeySchema:")
        .expect("the table declares a KeySchema")
        .1;
    assert_eq!(
        key_elements(key_schema),
        [format!("{} HASH", KEYS.0), format!("{} RANGE", KEYS.1)],
        "table key schema"
    );
    for (index, hash, range) in INDEXES {
        let marker = format!("IndexName: {index}");
        let after = indexes
            .split_once(&marker)
            .unwrap_or_else(|| {
                panic!("template.yaml's table has no index `{index}`; the adapter queries it")
            })
            .1;
        let this_index = after.split("IndexName:").next().unwrap_or(after);
        let this_index = this_index
            .split("TimeToLiveSpecification:")
            .next()
            .unwrap_or(this_index);
        assert_eq!(
            key_elements(this_index),
            [format!("{hash} HASH"), format!("{range} RANGE")],
            "key schema of index {index}"
        );
        for attribute in [hash, range] {
            assert!(
                table.contains(&format!("AttributeName: {attribute}, AttributeType: S")),
                "template.yaml does not define attribute {attribute} as a string"
            );
        }
    }
    let ttl = table
        .split_once("TimeToLiveSpecification:")
        .expect("the table declares a TTL")
        .1;
    assert!(
        ttl.split_whitespace().take(4).collect::<Vec<_>>()
            == ["AttributeName:", TTL_ATTRIBUTE, "Enabled:", "true"],
        "TTL attribute is not `{TTL_ATTRIBUTE}` enabled: {ttl}"
    );
}
