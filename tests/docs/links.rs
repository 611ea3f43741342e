//! Every relative link in every Markdown file of the repository resolves, anchors included,
//! and every `docs/…` path a `.rs` file cites exists, with the `§` section it names.

use std::path::{Path, PathBuf};

use super::{lines_by_fence, root};

/// Files under the repository with one of `extensions`, skipping `target/` and dot dirs.
fn files(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" {
                files(&path, extensions, out);
            }
        } else if extensions.iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

/// GitHub's anchors for the headings of a Markdown file (`## 9. Retries` → `9-retries`;
/// repeats get `-1`, `-2`…).
fn anchors(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, fence, line) in lines_by_fence(text) {
        let Some(heading) = line.strip_prefix('#').filter(|_| fence.is_none()) else {
            continue;
        };
        let slug: String = heading
            .trim_start_matches('#')
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c),
                _ => None,
            })
            .collect();
        let repeats = out
            .iter()
            .filter(|a| {
                a.as_str() == slug
                    || a.strip_prefix(&format!("{slug}-"))
                        .is_some_and(|n| n.parse::<u32>().is_ok())
            })
            .count();
        out.push(if repeats == 0 {
            slug
        } else {
            format!("{slug}-{repeats}")
        });
    }
    out
}

/// The link targets of one Markdown line (inline `](…)` and reference `[x]: …`), code spans
/// left out.
fn link_targets(line: &str) -> Vec<String> {
    let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
    let mut targets: Vec<String> = prose
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(|t| t.split_whitespace().next().unwrap_or_default().to_owned())
        .collect();
    if let Some((_, target)) = prose
        .trim_start()
        .strip_prefix('[')
        .and_then(|l| l.split_once("]: "))
    {
        targets.push(target.trim().to_owned());
    }
    targets
}

#[test]
fn markdown_links_resolve() {
    let mut markdown = Vec::new();
    files(&root(), &[".md"], &mut markdown);
    assert!(markdown.iter().any(|p| p.ends_with("docs/protocol.md")));
    for file in markdown {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, fence, line) in lines_by_fence(&text) {
            for target in link_targets(line).into_iter().filter(|_| fence.is_none()) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let at = format!("{}:{n}: {target}", file.display());
                let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
                let dest = if path.is_empty() {
                    file.clone()
                } else {
                    file.parent().unwrap().join(path)
                };
                assert!(dest.exists(), "{at}: no such file");
                if !anchor.is_empty() && dest.extension().is_some_and(|e| e == "md") {
                    let headings = anchors(&std::fs::read_to_string(&dest).unwrap());
                    assert!(
                        headings.iter().any(|a| a == anchor),
                        "{at}: no such heading"
                    );
                }
            }
        }
    }
}

/// The `§` sections named right after a `docs/…` path: `§2`, `§9.5`, `§1–§3`.
fn sections_after(rest: &str) -> Vec<String> {
    let mut rest = rest.trim_start_matches([' ', '`', '"', '\'', ')']);
    let mut out = Vec::new();
    while let Some(after) = rest.strip_prefix('§') {
        let number: String = after
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        out.push(number.trim_end_matches('.').to_owned());
        rest = after[number.len()..].trim_start_matches(['–', '-', ',', ' ']);
    }
    out
}

/// The `docs/…` paths cited on one line, each with the sections named after it.
fn citations(line: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (i, _) in line.match_indices("docs/") {
        if line[..i].ends_with(|c: char| c.is_alphanumeric() || c == '/' || c == '.') {
            continue; // tests/docs/…, docs.rs/…
        }
        let path: String = line[i..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || "_./-".contains(*c))
            .collect();
        let path = path.trim_end_matches('.').to_owned();
        let sections = sections_after(&line[i + path.len()..]);
        out.push((path, sections));
    }
    out
}

/// Whether the Markdown file has a heading that starts with `§section`.
fn has_section(text: &str, section: &str) -> bool {
    let mark = format!("§{section}");
    lines_by_fence(text).iter().any(|(_, fence, line)| {
        let heading = line.trim_start_matches('#').trim_start();
        fence.is_none()
            && line.starts_with('#')
            && heading
                .strip_prefix(&mark)
                .is_some_and(|t| t.is_empty() || t.starts_with(' '))
    })
}

#[test]
fn docs_cited_in_code_exist() {
    let mut sources = Vec::new();
    for dir in ["src", "tests", "benches", "examples"] {
        files(&root().join(dir), &[".rs"], &mut sources);
    }
    for file in sources {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for (path, sections) in citations(line) {
                let at = format!("{}:{}: {path}", file.display(), n + 1);
                // From the repository root, or (a `#[path]`) from the citing file.
                let dest = [root(), file.parent().unwrap().to_owned()]
                    .map(|dir| dir.join(&path))
                    .into_iter()
                    .find(|p| p.exists())
                    .unwrap_or_else(|| panic!("{at}: no such file"));
                for section in sections {
                    let text = std::fs::read_to_string(&dest).unwrap();
                    assert!(has_section(&text, &section), "{at}: no heading §{section}");
                }
            }
        }
    }
}
