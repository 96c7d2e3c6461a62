//! The HTTP layer's shape, read from its source: one router file, modules
//! that do not import each other in circles, files a reader can hold in mind,
//! and no handler reaching past the services into the store.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// About 600 lines: past this a file is doing more than one resource's work.
const MAX_LINES: usize = 650;

fn http_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http")
}

/// Every `.rs` file under `src/http`, as its module path (`conversations::list`) and its text.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
            if path.is_dir() {
                walk(&path, &format!("{prefix}{stem}::"), out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let name =
                    if stem == "mod" { prefix.trim_end_matches("::").to_owned() } else { format!("{prefix}{stem}") };
                out.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&http_dir(), "", &mut out);
    out
}

/// The code without comments and string literals, so prose naming a module is no import.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let mut kept = String::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !in_str && c == '/' && chars.get(i + 1) == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\\' && !(prev == '\'' && chars.get(i + 1) == Some(&'\'')) {
                in_str = !in_str;
            } else if !in_str {
                kept.push(c);
            }
            prev = if prev == '\\' && c == '\\' { ' ' } else { c };
            i += 1;
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// Which modules each module names: `crate::http::a::b…` (the longest known
/// module path), `super::…`, and the names inside `use crate::http::{a, b::c}`.
fn graph(mods: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let known: BTreeSet<&str> = mods.keys().map(String::as_str).collect();
    let resolve = |path: &str| -> Option<String> {
        let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
        (1..=parts.len()).rev().map(|n| parts[..n].join("::")).find(|p| known.contains(p.as_str()))
    };
    let mut out = BTreeMap::new();
    for (name, text) in mods {
        let code = code_of(text);
        let mut edges = BTreeSet::new();
        // Names that only mod.rs re-exports (`crate::http::AppState`): an edge to mod.rs.
        let mut to_root = false;
        let mut named: Vec<String> = Vec::new();
        let mut add = |p: &str| named.push(p.to_owned());
        let ident =
            |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect::<String>();
        for (i, _) in code.match_indices("crate::http::") {
            let rest = &code[i + "crate::http::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `use crate::http::{a, b::c}`: each entry from the http root.
                let inner = &group[..group.find('}').unwrap_or(group.len())];
                for entry in inner.split(',') {
                    add(&ident(entry.trim()));
                }
            } else {
                add(&ident(rest));
            }
            let first = ident(rest);
            let first = first.split("::").next().unwrap_or("");
            if !first.is_empty() && first.chars().next().is_some_and(char::is_uppercase) {
                to_root = true;
            }
        }
        // `pub use routes::router` in a mod.rs: its own child module.
        for (i, _) in code.match_indices("use ") {
            let rest = ident(&code[i + "use ".len()..]);
            let first = rest.split("::").next().unwrap_or("");
            let child = if name.is_empty() { first.to_owned() } else { format!("{name}::{first}") };
            if !first.is_empty() && known.contains(child.as_str()) {
                add(&child);
            }
        }
        let parent = name.rsplit_once("::").map(|(p, _)| p.to_owned()).unwrap_or_default();
        for (i, _) in code.match_indices("super::") {
            let rest = ident(&code[i + "super::".len()..]);
            let base = if parent.is_empty() { rest } else { format!("{parent}::{rest}") };
            // `use super::*` in a file's own tests names the file itself.
            if !code[..i].ends_with("use ") || !code[i..].starts_with("super::*") {
                add(&base);
            }
        }
        for p in named {
            if let Some(target) = resolve(&p)
                && &target != name
            {
                edges.insert(target);
            }
        }
        if to_root && !name.is_empty() {
            edges.insert(String::new());
        }
        out.insert(name.clone(), edges);
    }
    out
}

/// A circle of imports, if there is one (module names joined by " → ").
fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<String> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<String> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = stack.iter().position(|x| x == m).unwrap_or(0);
                    let mut path: Vec<String> = stack[start..].to_vec();
                    path.push(m.clone());
                    return Some(
                        path.iter().map(|p| if p.is_empty() { "mod" } else { p }).collect::<Vec<_>>().join(" → "),
                    );
                }
                0 => {
                    if let Some(c) = visit(m, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0
            && let Some(c) = visit(n, g, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn http_modules_import_each_other_without_circles() {
    let g = graph(&modules());
    assert!(
        g.get("conversations::thread").is_some_and(|e| e.contains("conversations::list")),
        "the graph reads imports: {g:?}"
    );
    assert_eq!(find_cycle(&g), None, "a circle of imports in src/http");
}

#[test]
fn the_cycle_check_finds_a_circle() {
    // The check itself: two modules naming each other, and one through mod.rs.
    let mut mods = BTreeMap::new();
    mods.insert(String::new(), "pub mod a; pub mod b; pub use a::Thing;".to_owned());
    mods.insert("a".to_owned(), "use crate::http::b::helper;\n".to_owned());
    mods.insert("b".to_owned(), "fn f() { crate::http::a::Thing::new(); }\n".to_owned());
    assert_eq!(find_cycle(&graph(&mods)).as_deref(), Some("a → b → a"));
    mods.insert("b".to_owned(), "use crate::http::AppState;\n".to_owned());
    assert!(find_cycle(&graph(&mods)).is_some(), "b → mod → a → b");
    mods.insert("b".to_owned(), "// crate::http::a is mentioned in prose only\n".to_owned());
    assert_eq!(find_cycle(&graph(&mods)), None);
}

#[test]
fn http_files_stay_short() {
    let long: Vec<(String, usize)> = modules()
        .into_iter()
        .map(|(name, text)| (name, text.lines().count()))
        .filter(|(_, n)| *n > MAX_LINES)
        .collect();
    assert!(long.is_empty(), "files in src/http over {MAX_LINES} lines: {long:?}");
}

#[test]
fn one_router_file_lists_every_route() {
    let mods = modules();
    let routed: Vec<&String> = mods
        .iter()
        .filter(|(name, text)| *name != "routes" && code_of(text).contains(".route("))
        .map(|(n, _)| n)
        .collect();
    assert!(routed.is_empty(), "routes outside src/http/routes.rs: {routed:?}");
}

/// The lines (1-based) of `text` whose code reaches for `.store` (a field or
/// method of that name), comments and string literals aside.
fn store_uses(text: &str) -> Vec<usize> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    code_of(text)
        .lines()
        .enumerate()
        .filter(|(_, line)| line.match_indices(".store").any(|(i, m)| !line[i + m.len()..].starts_with(is_ident)))
        .map(|(n, _)| n + 1)
        .collect()
}

/// Every `.rs` file under `src/http` with its path from the crate.
fn http_files() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let shown = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(&path).display().to_string();
                out.push((shown, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(&http_dir(), &mut out);
    out.sort();
    out
}

#[test]
fn handlers_call_services_never_the_store() {
    let found: Vec<String> = http_files()
        .iter()
        .flat_map(|(path, text)| store_uses(text).into_iter().map(move |line| format!("{path}:{line}")))
        .collect();
    assert!(
        found.is_empty(),
        "src/http reaches into the store (add a service method and call that instead): {}",
        found.join(", ")
    );
}

#[test]
fn the_store_check_finds_a_store_call() {
    let text = "fn a() {\n    let x = s.services.store.inbox(1, 2);\n    let y = stored.len(); // s.services.store\n}\nfn b(store: &S) { s.services\n    .store\n    .ping(); let z = \".store\"; }\n";
    assert_eq!(store_uses(text), vec![2, 6]);
}
