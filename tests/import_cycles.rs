//! No import circles between the modules of `src/` and `compare/tokio/src`.
//!
//! A module that names another through a path (`use crate::a::b`,
//! `crate::a::f()`, `super::x`, `self::c`, or a child module `c::` that it
//! declared) depends on that module's file. If the files, joined by those
//! edges, form a circle, no file of the circle can be read (or changed)
//! without the others: the check fails and prints the circle. Paths inside
//! comments and string literals do not count; the crate root (`lib.rs`) is
//! left out, since it only declares modules and re-exports. How it works,
//! in words, is in docs/testing.md ("Import-cycle check").

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[test]
fn the_blocking_crate_has_no_import_cycle() {
    assert_acyclic(&repo().join("src"));
}

#[test]
fn the_tokio_crate_has_no_import_cycle() {
    assert_acyclic(&repo().join("compare/tokio/src"));
}

#[test]
fn a_cycle_through_a_grouped_use_and_super_is_found() {
    let files = [
        ("a.rs", "use crate::{b::{self, Thing}, c};\npub fn g() {}\n"),
        (
            "b/mod.rs",
            "pub mod inner;\npub use inner::Inner;\npub struct Thing;\n",
        ),
        (
            "b/inner.rs",
            "pub struct Inner;\nfn f() { super::super::a::g(); }\n",
        ),
        (
            "c.rs",
            "// crate::a is only a comment\nconst S: &str = \"crate::a\";\n",
        ),
    ];
    let graph = graph_of(files.iter().map(|(p, s)| (PathBuf::from(p), s.to_string())));
    assert!(graph["c.rs"].is_empty(), "{graph:?}");
    let cycle = find_cycle(&graph).expect("a -> b/mod.rs -> b/inner.rs -> a");
    assert_eq!(cycle, ["a.rs", "b/mod.rs", "b/inner.rs", "a.rs"]);
}

#[test]
fn comments_strings_and_declarations_make_no_edges() {
    let files = [
        (
            "a.rs",
            "//! uses crate::b\nconst S: &str = \"crate::b::x\";\nfn f() -> char { 'b' }\n",
        ),
        ("b.rs", "pub fn x() { crate::a::f(); }\n"),
        ("p/mod.rs", "pub mod q;\n"),
        ("p/q.rs", "use super::super::b;\n"),
    ];
    let graph = graph_of(files.iter().map(|(p, s)| (PathBuf::from(p), s.to_string())));
    assert_eq!(graph["b.rs"], BTreeSet::from(["a.rs".to_string()]));
    assert!(
        graph["a.rs"].is_empty(),
        "comments and strings named b: {graph:?}"
    );
    assert!(
        graph["p/mod.rs"].is_empty(),
        "a `mod` declaration is no import"
    );
    assert_eq!(graph["p/q.rs"], BTreeSet::from(["b.rs".to_string()]));
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn super_inside_an_inline_test_module_is_the_file_itself() {
    let files = [
        ("p/mod.rs", "pub mod q;\nfn f() {}\n"),
        (
            "p/q.rs",
            "fn g() {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n    fn h() { super::g(); }\n}\n",
        ),
        (
            "p/r.rs",
            "mod inner {\n    use super::super::q;\n}\nfn k() { super::f(); }\n",
        ),
    ];
    let graph = graph_of(files.iter().map(|(p, s)| (PathBuf::from(p), s.to_string())));
    assert!(graph["p/q.rs"].is_empty(), "{graph:?}");
    assert_eq!(
        graph["p/r.rs"],
        BTreeSet::from(["p/mod.rs".to_string(), "p/q.rs".to_string()])
    );
}

#[test]
fn a_circle_of_three_files_is_reported_in_order() {
    let files = [
        (
            "lib.rs",
            "pub mod x;\npub mod y;\npub mod z;\npub use x::X;\n",
        ),
        ("x.rs", "use crate::y::Y;\npub struct X;\n"),
        ("y.rs", "pub struct Y(crate::z::Z);\n"),
        ("z/mod.rs", "mod w;\npub use w::Z;\n"),
        ("z/w.rs", "pub struct Z(crate::X, crate::x::X);\n"),
    ];
    let graph = graph_of(files.iter().map(|(p, s)| (PathBuf::from(p), s.to_string())));
    let cycle = find_cycle(&graph).expect("x -> y -> z/mod -> z/w -> x");
    assert_eq!(cycle, ["x.rs", "y.rs", "z/mod.rs", "z/w.rs", "x.rs"]);
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn assert_acyclic(src: &Path) {
    let mut files = Vec::new();
    collect_rs(src, src, &mut files);
    assert!(files.len() > 5, "no sources under {}", src.display());
    let graph = graph_of(files.into_iter());
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle in {}: {}\n(every file of a circle names the next one; move what they share into a leaf module)",
            src.display(),
            cycle.join(" -> ")
        );
    }
}

/// Every `.rs` file under `dir`, as (path relative to `root`, text); the
/// binary's `main.rs` is a crate of its own and is left out.
fn collect_rs(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_rs(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).expect("under root").to_path_buf();
            if relative != Path::new("main.rs") {
                let text = std::fs::read_to_string(&path).expect("readable source");
                out.push((relative, text));
            }
        }
    }
}

/// The module path a file defines: `a/b.rs` and `a/b/mod.rs` are `a::b`;
/// `lib.rs` is the root (empty).
fn module_of(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

/// File (as text with `/`) -> the files it names, for every file but the root.
fn graph_of(files: impl Iterator<Item = (PathBuf, String)>) -> BTreeMap<String, BTreeSet<String>> {
    let files: Vec<(String, Vec<String>, String)> = files
        .map(|(path, text)| {
            let name = path.to_string_lossy().replace('\\', "/");
            (name, module_of(&path), text)
        })
        .collect();
    let modules: BTreeMap<Vec<String>, String> = files
        .iter()
        .map(|(name, module, _)| (module.clone(), name.clone()))
        .collect();
    let mut graph = BTreeMap::new();
    for (name, module, text) in &files {
        if module.is_empty() {
            continue;
        }
        let tokens = tokens(text);
        let children = declared_children(&tokens);
        let mut edges = BTreeSet::new();
        for (inline, path) in paths(&tokens) {
            // Inside an inline `mod tests { .. }`, `super` is the file itself.
            let here: Vec<String> = module.iter().chain(&inline).cloned().collect();
            let children = if inline.is_empty() {
                &children
            } else {
                &BTreeSet::new()
            };
            let Some(absolute) = absolute(&here, children, &path) else {
                continue;
            };
            // The longest prefix that is a module file of this crate.
            let target = (1..=absolute.len())
                .rev()
                .find_map(|n| modules.get(&absolute[..n]));
            if let Some(target) = target
                && target != name
            {
                edges.insert(target.clone());
            }
        }
        graph.insert(name.clone(), edges);
    }
    graph
}

/// A path as written, resolved against module `here`: `None` for paths
/// that do not start in this crate (`std::`, another crate, a local name).
fn absolute(here: &[String], children: &BTreeSet<String>, path: &[String]) -> Option<Vec<String>> {
    let (first, rest) = path.split_first()?;
    let mut base: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => here[..here.len().checked_sub(1)?].to_vec(),
        child if children.contains(child) => {
            let mut base = here.to_vec();
            base.push(child.to_owned());
            base
        }
        _ => return None,
    };
    let mut rest = rest.iter().peekable();
    while rest.peek().is_some_and(|s| *s == "super") {
        rest.next();
        base.pop()?;
    }
    base.extend(rest.filter(|s| *s != "self").cloned());
    Some(base)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

/// The identifiers and punctuation of `text`, without comments, string,
/// byte-string, raw-string and char literals (lifetimes are dropped too).
fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i = skip_block_comment(&chars, i);
        } else if c == '"' {
            i = skip_string(&chars, i + 1);
        } else if (c == 'r' || c == 'b') && raw_string_start(&chars, i).is_some() {
            let (hashes, body) = raw_string_start(&chars, i).unwrap_or((0, i));
            i = skip_raw_string(&chars, body, hashes);
        } else if c == 'b' && next == Some('"') {
            i = skip_string(&chars, i + 2);
        } else if c == 'b' && next == Some('\'') {
            i = skip_char(&chars, i + 1);
        } else if c == '\'' {
            i = skip_char(&chars, i);
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c == ':' && next == Some(':') {
            out.push(Token::PathSep);
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(Token::Punct(c));
            }
            i += 1;
        }
    }
    out
}

fn skip_block_comment(chars: &[char], mut i: usize) -> usize {
    let mut depth = 0;
    while i + 1 < chars.len() {
        if chars[i] == '/' && chars[i + 1] == '*' {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars[i + 1] == '/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    chars.len()
}

/// From just after an opening `"` to just after its closing one.
fn skip_string(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

/// `r"`, `r#"`, `br##"`...: the number of `#` and where the body starts.
fn raw_string_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if chars[j] == 'b' {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    // Not the tail of an identifier such as `bar"`.
    if i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (chars.get(j) == Some(&'"')).then_some((hashes, j + 1))
}

fn skip_raw_string(chars: &[char], mut i: usize, hashes: usize) -> usize {
    while i < chars.len() {
        if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        i += 1;
    }
    chars.len()
}

/// From a `'`: past a char literal (`'a'`, `'\n'`, `'\u{1F}'`) or past a
/// lifetime's quote (`'a` then the identifier is skipped too).
fn skip_char(chars: &[char], i: usize) -> usize {
    match (chars.get(i + 1), chars.get(i + 2)) {
        (Some('\\'), _) => {
            let mut j = i + 2;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            j + 1
        }
        (Some(_), Some('\'')) => i + 3,
        _ => {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            j
        }
    }
}

/// The child modules a file declares (`mod c;`, `pub mod c;`, `pub(crate) mod c;`).
fn declared_children(tokens: &[Token]) -> BTreeSet<String> {
    tokens
        .windows(3)
        .filter_map(|w| match w {
            [Token::Ident(kw), Token::Ident(name), Token::Punct(';')] if kw == "mod" => {
                Some(name.clone())
            }
            _ => None,
        })
        .collect()
}

/// Every path the tokens spell, with the inline modules (`mod tests {`)
/// it sits in: whole `use` trees expanded, and in other code each
/// `a::b::c` that does not continue another path.
fn paths(tokens: &[Token]) -> Vec<(Vec<String>, Vec<String>)> {
    let mut out = Vec::new();
    // Inline modules open here: (name, brace depth inside it).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Ident(kw) if kw == "mod" => {
                if let (Some(Token::Ident(name)), Some(Token::Punct('{'))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    inline.push((name.clone(), depth + 1));
                }
            }
            _ => {}
        }
        let scope: Vec<String> = inline.iter().map(|(name, _)| name.clone()).collect();
        if tokens[i] == Token::Ident("use".into()) {
            let mut found = Vec::new();
            i = use_tree(tokens, i + 1, &[], &mut found);
            out.extend(found.into_iter().map(|path| (scope.clone(), path)));
            continue;
        }
        let starts_path = matches!(tokens[i], Token::Ident(_))
            && (i == 0 || tokens[i - 1] != Token::PathSep)
            && tokens.get(i + 1) == Some(&Token::PathSep);
        if starts_path {
            let mut path = Vec::new();
            while let Some(Token::Ident(segment)) = tokens.get(i) {
                path.push(segment.clone());
                if tokens.get(i + 1) == Some(&Token::PathSep) {
                    i += 2;
                } else {
                    i += 1;
                    break;
                }
            }
            out.push((scope, path));
        } else {
            i += 1;
        }
    }
    out
}

/// Parses one use tree at `i` under `prefix`, pushing each leaf path;
/// returns the index after it (after `;` or before `,`/`}`).
fn use_tree(
    tokens: &[Token],
    mut i: usize,
    prefix: &[String],
    out: &mut Vec<Vec<String>>,
) -> usize {
    let mut path = prefix.to_vec();
    loop {
        match tokens.get(i) {
            Some(Token::Ident(segment)) if segment == "as" => {
                i += 2; // `as name`
            }
            Some(Token::Ident(segment)) => {
                path.push(segment.clone());
                i += 1;
            }
            Some(Token::PathSep) => i += 1,
            Some(Token::Punct('{')) => {
                i += 1;
                loop {
                    i = use_tree(tokens, i, &path, out);
                    match tokens.get(i) {
                        Some(Token::Punct(',')) => i += 1,
                        Some(Token::Punct('}')) => return i + 1,
                        _ => return i,
                    }
                    if tokens.get(i) == Some(&Token::Punct('}')) {
                        return i + 1;
                    }
                }
            }
            Some(Token::Punct('*')) => i += 1,
            Some(Token::Punct(';')) => {
                out.push(path);
                return i + 1;
            }
            _ => {
                out.push(path);
                return i;
            }
        }
    }
}

/// One circle of the graph, as files from a start back to it; `None` if
/// there is none. Depth-first search, in file order, so the answer is the
/// same on every run.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_owned(), Mark::Open);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let from = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New if graph.contains_key(next) => {
                    if let Some(cycle) = visit(next, graph, marks, stack) {
                        return Some(cycle);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if marks.get(node).copied().unwrap_or(Mark::New) == Mark::New {
            let mut stack = Vec::new();
            if let Some(cycle) = visit(node, graph, &mut marks, &mut stack) {
                return Some(cycle);
            }
        }
    }
    None
}
