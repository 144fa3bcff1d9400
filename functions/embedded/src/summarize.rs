//! Extractive summaries: the sentences that carry the text's most frequent
//! content words, in their original order, within a word budget. No model,
//! so it is the no-LLM default and the fallback when an LLM tier fails.

use std::collections::HashMap;

/// Words too common to say what a text is about.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "for", "from", "had",
    "has", "have", "he", "her", "hi", "i", "if", "in", "is", "it", "its", "me", "my", "no", "not",
    "of", "on", "or", "our", "please", "she", "so", "that", "the", "their", "them", "there",
    "this", "to", "was", "we", "were", "what", "when", "which", "will", "with", "would", "you",
    "your", "thanks", "thank", "hello", "regards",
];

/// Picks whole sentences until the next would pass `max_words`; the first
/// sentence is cut to the budget when even it is longer.
pub fn summarize(text: &str, max_words: usize) -> String {
    let sentences = sentences(text);
    if sentences.is_empty() || max_words == 0 {
        return String::new();
    }
    let mut frequency: HashMap<String, f64> = HashMap::new();
    for sentence in &sentences {
        for word in content_words(sentence) {
            *frequency.entry(word).or_default() += 1.0;
        }
    }
    let mut ranked: Vec<(usize, f64)> = sentences
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let words = content_words(s);
            let score = words.iter().map(|w| frequency[w]).sum::<f64>()
                / (words.len() as f64).sqrt().max(1.0);
            // Openings state the matter more often than not.
            let position = if i == 0 { 1.25 } else { 1.0 };
            (i, score * position)
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    // Greetings and sign-offs fit any budget; a sentence must carry at
    // least half the weight of the best one to be kept.
    let floor = ranked.first().map_or(0.0, |r| r.1 / 2.0);

    let mut chosen = Vec::new();
    let mut words = 0;
    for (i, score) in ranked {
        if score < floor {
            break;
        }
        let n = sentences[i].split_whitespace().count();
        if words + n <= max_words {
            chosen.push(i);
            words += n;
        }
    }
    if chosen.is_empty() {
        let first: Vec<&str> = sentences[0].split_whitespace().take(max_words).collect();
        return format!("{}…", first.join(" "));
    }
    chosen.sort_unstable();
    chosen
        .iter()
        .map(|&i| sentences[i].as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c == '\n' || c == '\r' {
            push_sentence(&mut out, &mut current);
            continue;
        }
        current.push(c);
        if matches!(c, '.' | '!' | '?') {
            push_sentence(&mut out, &mut current);
        }
    }
    push_sentence(&mut out, &mut current);
    out
}

fn push_sentence(out: &mut Vec<String>, current: &mut String) {
    let sentence = current.split_whitespace().collect::<Vec<_>>().join(" ");
    if sentence.chars().any(char::is_alphanumeric) {
        out.push(sentence);
    }
    current.clear();
}

fn content_words(sentence: &str) -> Vec<String> {
    sentence
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1)
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_sentences_about_the_main_matter_in_order() {
        let text = "Hi team. My card was declined at the shop today. \
                    The card is new and the card was activated yesterday. \
                    Have a nice weekend!";
        let summary = summarize(text, 20);
        assert!(summary.starts_with("My card was declined"), "{summary}");
        assert!(summary.contains("activated yesterday"), "{summary}");
        assert!(!summary.contains("weekend"), "{summary}");
    }

    #[test]
    fn never_passes_the_word_budget() {
        let text = "One two three four five six seven eight nine ten eleven twelve.";
        let summary = summarize(text, 5);
        assert_eq!(summary, "One two three four five…");
        let long = "Alpha beta gamma. ".repeat(50);
        assert!(summarize(&long, 12).split_whitespace().count() <= 12);
    }

    #[test]
    fn empty_text_has_an_empty_summary() {
        assert_eq!(summarize("  \n ", 10), "");
    }
}
