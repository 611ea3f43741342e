//! The front door of a fresh clone: what the README walkthrough leaves in the repository is
//! ignored by git, and the release binary the .deb ships is stripped.

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_walkthroughs_leftovers_are_ignored_by_git() {
    let ignore = std::fs::read_to_string(root().join(".gitignore")).unwrap();
    for entry in ["/state/", "/receipts/", "/receipt.png", "/wxprint.sock"] {
        assert!(
            ignore.lines().any(|l| l == entry),
            "{entry} not in .gitignore"
        );
    }
    // And git agrees, when this is a git checkout with git installed.
    let paths = [
        "state/journal.sqlite",
        "receipts/r.bin",
        "receipt.png",
        "wxprint.sock",
    ];
    if let Ok(out) = Command::new("git")
        .arg("check-ignore")
        .args(paths)
        .current_dir(root())
        .output()
        && out.status.code() != Some(128)
    {
        let ignored = String::from_utf8_lossy(&out.stdout);
        for path in paths {
            assert!(ignored.lines().any(|l| l == path), "git tracks {path}");
        }
    }
}

#[test]
fn the_release_binary_is_stripped() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let release = manifest
        .split("[profile.release]")
        .nth(1)
        .expect("a [profile.release] section");
    let section = release.split("\n[").next().unwrap();
    assert!(
        section.lines().any(|l| l.trim() == "strip = true"),
        "[profile.release] lacks strip = true:\n{section}"
    );
}

/// One story for key files: every `sudo install … /etc/wxprint/…` destination in the README's
/// and operations.md's set-up is a key file the shipped config names, and every key file the
/// shipped config names is installed there — so the literal commands give a working daemon.
#[test]
fn the_install_steps_put_the_keys_where_the_shipped_config_looks() {
    let config = std::fs::read_to_string(root().join("config/wxprint.toml")).unwrap();
    let wanted: Vec<&str> = ["private_key_file", "public_key_file"]
        .iter()
        .map(|key| {
            let line = config
                .lines()
                .find(|l| l.starts_with(&format!("{key} =")))
                .unwrap_or_else(|| panic!("{key} in config/wxprint.toml"));
            line.split('"').nth(1).unwrap()
        })
        .collect();
    for doc in ["README.md", "docs/operations.md"] {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        let installed: Vec<&str> = text
            .split(['`', '\n'])
            .filter(|cmd| cmd.trim_start().starts_with("sudo install -o wxprint"))
            .filter_map(|cmd| cmd.split_whitespace().last())
            .collect();
        for file in &wanted {
            assert!(
                installed.contains(file),
                "{doc}: no install step puts a file at {file} (installs: {installed:?})"
            );
        }
        for dest in &installed {
            assert!(
                wanted.contains(dest),
                "{doc}: installs {dest}, which the shipped config does not name"
            );
        }
    }
}
