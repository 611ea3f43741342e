//! The documentation cannot drift from the code.
//!
//! - Every request example in `docs/protocol.md` and `README.md` (a line of a ```` ```json ````
//!   block with an `"op"`) is accepted by the daemon's own parser, `protocol::parse_request`.
//! - Every daemon-message example (a line with an `"event"`) survives a round trip through
//!   `protocol::Message` unchanged: each field exists, with its type and a valid value.
//! - A real `wxprint serve` (the binary, sandbox backend, file printer) is driven through a
//!   checkout → paid, a resumed and a refused checkout, a cancel, reprints, bad requests, a
//!   lost journal (the one way to see `failed` offline) and a printer that cannot print.
//!   Every message it sends must have the shape (keys, nested keys, JSON types) of a
//!   documented example of the same event, and every documented example the shape of a
//!   message it sent — except shapes only WeChat Pay produces (`live::WECHATPAY_ONLY`) or
//!   only a real printer (`live::PRINTER_ONLY`).
//! - Every relative link in every Markdown file resolves (anchors included), and every
//!   `docs/…` path cited in a `.rs` file exists, with the `§` section it names.
//!
//! Self-contained on purpose: it needs the binary, the config keys and the socket protocol,
//! nothing of the crate's test support. This file reads the examples; `live` runs the
//! daemon, `links` checks links and citations.

#[path = "docs/links.rs"]
mod links;
#[path = "docs/live.rs"]
mod live;

use std::path::PathBuf;

use serde_json::Value;
use wxprint::protocol::{Message, parse_request};

/// The Markdown files whose ```` ```json ```` blocks are protocol examples.
const PROTOCOL_DOCS: [&str; 2] = ["docs/protocol.md", "README.md"];

/// JSON examples, each with the `file:line` it comes from.
type Examples = Vec<(String, Value)>;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Lines of `text` outside fenced code blocks, with their 1-based numbers; and inside them,
/// with the fence's info string.
fn lines_by_fence(text: &str) -> Vec<(usize, Option<&str>, &str)> {
    let mut fence: Option<&str> = None;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            fence = if fence.is_some() {
                None
            } else {
                Some(info.trim())
            };
            continue;
        }
        out.push((i + 1, fence, line));
    }
    out
}

/// The JSON objects of the ```` ```json ```` blocks of `file`, one a line, with `file:line`.
fn json_examples(file: &str) -> Examples {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    lines_by_fence(&text)
        .into_iter()
        .filter(|(_, fence, line)| *fence == Some("json") && !line.trim().is_empty())
        .map(|(n, _, line)| {
            let value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{file}:{n}: not one JSON object ({e})"));
            (format!("{file}:{n}"), value)
        })
        .collect()
}

/// Every example of the protocol docs, split into requests and daemon messages.
fn examples() -> (Examples, Examples) {
    let all: Vec<_> = PROTOCOL_DOCS
        .iter()
        .flat_map(|f| json_examples(f))
        .collect();
    for (at, value) in &all {
        assert!(
            value.get("op").is_some() != value.get("event").is_some(),
            "{at}: an example is a request (\"op\") or a daemon message (\"event\")"
        );
    }
    all.into_iter().partition(|(_, v)| v.get("op").is_some())
}

#[test]
fn request_examples_are_accepted_by_the_parser() {
    let (requests, _) = examples();
    assert!(
        requests.len() >= 15,
        "found only {} requests",
        requests.len()
    );
    for (at, request) in requests {
        if let Err((_, e)) = parse_request(request.to_string().as_bytes()) {
            panic!("{at}: the daemon refuses this example: {e}");
        }
    }
}

#[test]
fn message_examples_are_what_the_protocol_types_write() {
    let (_, messages) = examples();
    assert!(
        messages.len() >= 40,
        "found only {} messages",
        messages.len()
    );
    for (at, message) in messages {
        let parsed: Message = serde_json::from_value(message.clone())
            .unwrap_or_else(|e| panic!("{at}: not a daemon message: {e}"));
        let back = serde_json::to_value(&parsed).unwrap();
        assert_eq!(back, message, "{at}: fields the protocol types do not have");
    }
}
