//! The docs name what the code defines: every constant of `src/limits.rs`
//! appears in docs/operations.md ("Every limit"), every configurable limit
//! there too, every "PROTOCOL §N" the code cites is a section of
//! docs/PROTOCOL.md, and README and docs/ link only to files that exist.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_constant_of_limits_rs_is_in_operations_md() {
    let limits = read(&repo().join("src/limits.rs"));
    let operations = read(&repo().join("docs/operations.md"));
    let names: Vec<&str> = limits
        .lines()
        .filter_map(|line| line.strip_prefix("pub const "))
        .filter_map(|rest| rest.split(':').next())
        .collect();
    assert!(names.len() > 20, "constants found: {names:?}");
    let missing: Vec<&&str> = names
        .iter()
        .filter(|name| !operations.contains(&format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/operations.md does not name {missing:?}"
    );
    // The configurable ones, by their config key.
    for field in limits
        .lines()
        .skip_while(|line| !line.starts_with("pub struct Limits"))
        .skip(1)
        .take_while(|line| !line.starts_with('}'))
        .filter_map(|line| line.trim().strip_prefix("pub "))
        .filter_map(|rest| rest.split(':').next())
    {
        let key = match field {
            "idle_timeout" | "write_timeout" | "reconnect_min" | "reconnect_max"
            | "handshake_timeout" | "park_idle" | "max_clock_ahead" => format!("{field}_ms"),
            other => other.to_owned(),
        };
        assert!(
            operations.contains(&format!("`{key}`")),
            "docs/operations.md lacks `{key}`"
        );
    }
}

#[test]
fn links_in_readme_and_docs_resolve_inside_the_repository() {
    let root = repo();
    let mut pages = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    let mut broken = Vec::new();
    for page in &pages {
        let text = read(page);
        let dir = page.parent().expect("a folder");
        for target in markdown_links(&text) {
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let file = target.split('#').next().unwrap_or_default();
            if !dir.join(file).exists() {
                broken.push(format!("{}: {target}", page.display()));
            }
        }
        assert!(
            !text.contains(concat!("shared", "/PROTOCOL")),
            "{} points outside the repository",
            page.display()
        );
    }
    assert!(broken.is_empty(), "links to nothing: {broken:#?}");
}

/// The targets of `[text](target)` links.
fn markdown_links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].trim().to_owned());
            rest = &rest[end..];
        }
    }
    out
}

#[test]
fn every_protocol_section_the_code_cites_is_in_docs_protocol_md() {
    let protocol = read(&repo().join("docs/PROTOCOL.md"));
    let mut cited = std::collections::BTreeSet::new();
    for dir in [
        "src",
        "compare/tokio/src",
        "compare/asyncio/herd",
        "compare/node/lib",
        "tests",
    ] {
        collect_citations(&repo().join(dir), &mut cited);
    }
    assert!(cited.len() >= 5, "citations found: {cited:?}");
    for section in &cited {
        assert!(
            protocol.contains(&format!("\n## {section}. ")),
            "PROTOCOL §{section} is cited but docs/PROTOCOL.md has no section {section}"
        );
    }
}

/// The section numbers of every "PROTOCOL §N" in the source files under `dir`.
fn collect_citations(dir: &Path, out: &mut std::collections::BTreeSet<u32>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() && name != "node_modules" && name != "corpus" {
            collect_citations(&path, out);
        } else if ["rs", "py", "js"]
            .iter()
            .any(|e| name.ends_with(&format!(".{e}")))
        {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for (at, _) in text.match_indices('§') {
                let before = &text[..at];
                if !(before.ends_with("PROTOCOL ") || before.ends_with("PROTOCOL.md ")) {
                    continue;
                }
                let digits: String = text[at + '§'.len_utf8()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if let Ok(n) = digits.parse() {
                    out.insert(n);
                }
            }
        }
    }
}
