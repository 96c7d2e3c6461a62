//! Where a field is in a YAML flow file, by its path (`steps[1].options[0].goto`),
//! so a validation error names the line as a syntax error does. Block style
//! only (what `export_yaml` writes and people type); a path it cannot follow
//! gives no line, and the error still names the field.

pub(super) fn locate(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    // (index of the line to start at, the indent the parent's block is deeper than)
    let (mut at, mut parent): (usize, isize) = (0, -1);
    for part in path.split('.') {
        let (key, rest) = part.split_once('[').map(|(k, r)| (k, Some(r))).unwrap_or((part, None));
        if !key.is_empty() {
            let (i, indent) = find_key(&lines, at, parent, key)?;
            at = i;
            parent = indent;
        }
        for idx in rest.into_iter().flat_map(|r| r.split('[')) {
            let n: usize = idx.trim_end_matches(']').parse().ok()?;
            let (i, dash) = find_item(&lines, at, parent, n)?;
            at = i;
            // The item's own keys sit after its dash, deeper than it.
            parent = dash;
        }
    }
    Some(at + 1)
}

/// The indent of a line's content, and the content (after a list dash, the
/// dash counts as indent).
fn content(line: &str) -> (isize, &str, Option<isize>) {
    let indent = (line.len() - line.trim_start().len()) as isize;
    let rest = line.trim_start();
    match rest.strip_prefix("- ") {
        Some(after) => {
            let inner = (after.len() - after.trim_start().len()) as isize;
            (indent + 2 + inner, after.trim_start(), Some(indent))
        }
        None => (indent, rest, None),
    }
}

fn blank(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#')
}

/// The line of `key:` inside the block deeper than `parent`, from line `from`.
fn find_key(lines: &[&str], from: usize, parent: isize, key: &str) -> Option<(usize, isize)> {
    for (i, line) in lines.iter().enumerate().skip(from) {
        if blank(line) {
            continue;
        }
        let (indent, rest, dash) = content(line);
        let owner = dash.unwrap_or(indent);
        if i > from && owner <= parent {
            return None;
        }
        let name = rest.split(':').next().unwrap_or_default().trim().trim_matches(['"', '\'']);
        if indent > parent && name == key && rest.contains(':') {
            return Some((i, indent));
        }
    }
    None
}

/// The line of the `n`th `- ` item of the list under the key at line `from`.
fn find_item(lines: &[&str], from: usize, parent: isize, n: usize) -> Option<(usize, isize)> {
    let mut seen = 0;
    let mut item_indent: Option<isize> = None;
    for (i, line) in lines.iter().enumerate().skip(from + 1) {
        if blank(line) {
            continue;
        }
        let (indent, _, dash) = content(line);
        let owner = dash.unwrap_or(indent);
        if owner < parent || (owner == parent && dash.is_none()) {
            return None;
        }
        let Some(d) = dash else { continue };
        match item_indent {
            None => item_indent = Some(d),
            Some(x) if d != x => continue,
            _ => {}
        }
        if seen == n {
            return Some((i, d));
        }
        seen += 1;
    }
    None
}
