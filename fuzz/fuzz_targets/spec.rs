//! Workflow spec parsing and validation (YAML, JSONPaths, CEL rules,
//! templates) on arbitrary text: errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The spec's name must match its file: take the name the text gives, so
    // mutations of a valid seed get past that check to the deeper ones.
    let name = text
        .lines()
        .find_map(|l| l.strip_prefix("name:"))
        .map(|n| n.trim().trim_matches('"'))
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .unwrap_or("fuzz");
    let _ = handoff_spec::Workflow::from_yaml(&format!("{name}.yaml"), text);
});
