//! `report.html`: the same page as report.md in one self-contained file
//! (the plots inlined as SVG, tables as HTML, the style in the page, no
//! link to anything outside it), so a teacher can send one file.
//!
//! The Markdown is ours: the lab writes it with a small, known subset
//! (headings, paragraphs, `- ` lists, pipe tables, a picture alone on its
//! line, `code`, **bold**, _italic_). A converter for that subset is a
//! page of code and needs no new dependency; a full CommonMark crate would
//! add one for features the report never uses.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes DIR/report.html from `md`, inlining the SVGs it shows from DIR.
pub fn write(dir: &Path, md: &str) -> Result<()> {
    let title = md
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .unwrap_or("herd benchmark lab");
    let html = to_html(md, title, |file| read_svg(dir, file));
    let path = dir.join("report.html");
    std::fs::write(&path, html).with_context(|| format!("cannot write {}", path.display()))
}

/// An SVG of DIR, ready to sit inside an HTML page: no XML prolog, no
/// namespace URL (HTML puts an inline `<svg>` in the SVG namespace
/// itself), scaled to the page's width.
fn read_svg(dir: &Path, file: &str) -> Option<String> {
    if file.contains('/') || file.contains("..") || !file.ends_with(".svg") {
        return None;
    }
    let text = std::fs::read_to_string(dir.join(file)).ok()?;
    let start = text.find("<svg")?;
    let svg = text[start..]
        .replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
        .replacen(" xmlns:xlink=\"http://www.w3.org/1999/xlink\"", "", 1);
    Some(svg.replacen("<svg", "<svg class=\"plot\"", 1))
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
line-height:1.45;color:#1a1a1a;max-width:1040px;margin:0 auto;padding:1em 1.5em}\
h1{font-size:1.7em}h2{margin-top:2em;border-bottom:1px solid #ccc;padding-bottom:.2em}\
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em;background:#f3f3f3;\
padding:0 .2em;border-radius:3px}\
.table{overflow-x:auto;margin:1em 0}table{border-collapse:collapse;font-size:.88em}\
th,td{border:1px solid #ccc;padding:.25em .5em;vertical-align:top}th{background:#f3f3f3}\
tr:nth-child(even) td{background:#fafafa}\
figure{margin:1em 0}svg.plot{width:100%;height:auto;max-width:960px}\
@media print{h2{break-before:auto}figure,table{break-inside:avoid}}";

/// The whole page. `svg(file)` gives the SVG a picture shows, if any.
pub fn to_html(md: &str, title: &str, svg: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        escape(title)
    );
    let lines: Vec<&str> = md.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        if t.is_empty() {
            i += 1;
        } else if let Some((level, text)) = heading(t) {
            let _ = writeln!(
                out,
                "<h{level} id=\"{}\">{}</h{level}>",
                slug(text),
                inline(text)
            );
            i += 1;
        } else if t.starts_with('|') {
            let start = i;
            while i < lines.len() && lines[i].trim().starts_with('|') {
                i += 1;
            }
            table(&mut out, &lines[start..i]);
        } else if t.starts_with("- ") {
            out.push_str("<ul>\n");
            while i < lines.len() && lines[i].trim_start().starts_with("- ") {
                let mut item = lines[i].trim_start()[2..].to_owned();
                i += 1;
                // Continuation lines of the item.
                while i < lines.len()
                    && lines[i].starts_with("  ")
                    && !lines[i].trim().is_empty()
                    && !lines[i].trim_start().starts_with("- ")
                {
                    item.push(' ');
                    item.push_str(lines[i].trim());
                    i += 1;
                }
                let _ = writeln!(out, "<li>{}</li>", inline(&item));
            }
            out.push_str("</ul>\n");
        } else if let Some((alt, file)) = picture(t) {
            match svg(file) {
                Some(s) => {
                    let _ = writeln!(
                        out,
                        "<figure role=\"img\" aria-label=\"{}\">\n{s}\n</figure>",
                        escape(alt)
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "<p><em>(plot {} is missing from this directory)</em></p>",
                        escape(file)
                    );
                }
            }
            i += 1;
        } else {
            let mut para = Vec::new();
            while i < lines.len() {
                let t = lines[i].trim();
                if t.is_empty()
                    || heading(t).is_some()
                    || t.starts_with('|')
                    || t.starts_with("- ")
                    || picture(t).is_some()
                {
                    break;
                }
                para.push(t);
                i += 1;
            }
            let _ = writeln!(out, "<p>{}</p>", inline(&para.join(" ")));
        }
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// `## Text` as (2, "Text").
fn heading(t: &str) -> Option<(usize, &str)> {
    let level = t.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    t[level..]
        .strip_prefix(' ')
        .map(|text| (level, text.trim()))
}

/// A heading's anchor: its words in lower case, joined by dashes.
fn slug(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join("-")
}

/// `![alt](file)` alone on a line.
fn picture(t: &str) -> Option<(&str, &str)> {
    let rest = t.strip_prefix("![")?.strip_suffix(')')?;
    let (alt, file) = rest.split_once("](")?;
    (!file.contains(' ') && !file.contains('(')).then_some((alt, file))
}

/// The cells of a table row: split on `|` outside code spans.
fn cells(line: &str) -> Vec<String> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = t.strip_suffix('|').unwrap_or(t);
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut in_code = false;
    for c in t.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                cell.push(c);
            }
            '|' if !in_code => cells.push(std::mem::take(&mut cell).trim().to_owned()),
            _ => cell.push(c),
        }
    }
    cells.push(cell.trim().to_owned());
    cells
}

fn is_rule(cells: &[String]) -> bool {
    cells.iter().all(|c| {
        !c.is_empty() && c.contains('-') && c.chars().all(|x| matches!(x, '-' | ':' | ' '))
    })
}

fn table(out: &mut String, lines: &[&str]) {
    let rows: Vec<Vec<String>> = lines.iter().map(|l| cells(l)).collect();
    let has_rule = rows.get(1).is_some_and(|r| is_rule(r));
    // A key-value table's header is empty: no header row then.
    let has_head = has_rule && rows[0].iter().any(|c| !c.is_empty());
    out.push_str("<div class=\"table\"><table>\n");
    let mut body = rows.iter().enumerate().peekable();
    if has_head {
        out.push_str("<thead><tr>");
        for c in &rows[0] {
            let _ = write!(out, "<th>{}</th>", inline(c));
        }
        out.push_str("</tr></thead>\n");
    }
    if has_rule {
        body.next();
        body.next();
    }
    out.push_str("<tbody>\n");
    for (_, r) in body {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", inline(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

/// Inline Markdown: `code`, **bold**, _italic_ (an underscore inside a
/// word, as in `echo_threads`, is a letter), [text](target) as its text
/// (the page links to nothing), everything else escaped.
pub fn inline(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric());
    while i < chars.len() {
        let c = chars[i];
        let rest: String = chars[i..].iter().collect();
        if c == '`'
            && let Some(end) = chars[i + 1..].iter().position(|x| *x == '`')
        {
            let code: String = chars[i + 1..i + 1 + end].iter().collect();
            let _ = write!(out, "<code>{}</code>", escape(&code));
            i += end + 2;
        } else if rest.starts_with("**")
            && let Some(end) = rest[2..].find("**").filter(|e| *e > 0)
        {
            let inner = &rest[2..2 + end];
            let _ = write!(out, "<strong>{}</strong>", inline(inner));
            i += inner.chars().count() + 4;
        } else if c == '_'
            && !word(i.checked_sub(1).and_then(|p| chars.get(p)))
            && chars.get(i + 1).is_some_and(|n| !n.is_whitespace())
            && let Some(end) = (i + 2..chars.len()).find(|j| {
                chars[*j] == '_' && !chars[j - 1].is_whitespace() && !word(chars.get(j + 1))
            })
        {
            let inner: String = chars[i + 1..end].iter().collect();
            let _ = write!(out, "<em>{}</em>", inline(&inner));
            i = end + 1;
        } else if c == '['
            && let Some(close) = rest.find("](")
            && let Some(end) = rest[close..].find(')')
        {
            let text = &rest[1..close];
            out.push_str(&inline(text));
            i += rest[..close + end + 1].chars().count();
        } else {
            out.push_str(&escape(&c.to_string()));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_markdown_becomes_html() {
        assert_eq!(inline("a **b** c"), "a <strong>b</strong> c");
        assert_eq!(inline("_Not run._"), "<em>Not run.</em>");
        assert_eq!(
            inline("echo_threads and echo_tokio"),
            "echo_threads and echo_tokio"
        );
        assert_eq!(inline("`a|b` <x>"), "<code>a|b</code> &lt;x&gt;");
        assert_eq!(inline("see [the page](http://x.y/)"), "see the page");
        assert_eq!(inline("**met** (≥ 0.8)"), "<strong>met</strong> (≥ 0.8)");
        assert_eq!(inline("2 * 3"), "2 * 3");
    }

    #[test]
    fn blocks_become_html() {
        let md = "# T\n\nPara one\nstill one.\n\n- **a**: b\n- c\n\n\
                  | x | y |\n|---|---|\n| `p|q` | 2 |\n\n![chart](c.svg)\n\n![gone](g.svg)\n";
        let html = to_html(md, "T", |f| {
            (f == "c.svg").then(|| "<svg>C</svg>".to_owned())
        });
        assert!(html.contains("<h1 id=\"t\">T</h1>"), "{html}");
        assert_eq!(
            slug("## 3. Idle hoarders (`idle_hoarders`)"),
            "3-idle-hoarders-idle-hoarders"
        );
        assert!(html.contains("<p>Para one still one.</p>"), "{html}");
        assert!(
            html.contains("<li><strong>a</strong>: b</li>\n<li>c</li>"),
            "{html}"
        );
        assert!(html.contains("<th>x</th><th>y</th>"), "{html}");
        assert!(
            html.contains("<td><code>p|q</code></td><td>2</td>"),
            "{html}"
        );
        assert!(html.contains("<svg>C</svg>"));
        assert!(html.contains("plot g.svg is missing"));
    }

    #[test]
    fn svgs_come_without_prolog_or_namespace_url() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("a.svg"),
            "<?xml version=\"1.0\"?>\n<svg width=\"9\" height=\"9\" viewBox=\"0 0 9 9\" \
             xmlns=\"http://www.w3.org/2000/svg\">\n<rect/></svg>\n",
        )
        .expect("svg");
        let svg = read_svg(dir.path(), "a.svg").expect("read");
        assert!(svg.starts_with("<svg class=\"plot\" width=\"9\""), "{svg}");
        assert!(!svg.contains("http"));
        assert!(read_svg(dir.path(), "../a.svg").is_none());
        assert!(read_svg(dir.path(), "missing.svg").is_none());
    }
}
