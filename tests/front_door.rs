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
