//! The house rules of `src/`, checked on every test run (docs/architecture.md):
//! the layers import only the layers below them, no two files import each
//! other however far round, and no file grows past what one reading holds.
//!
//! Imports are read from the source text: every `crate::…` and `super::…`
//! path, and every `use` of a child module, outside test modules and comments.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first: a file may import its own layer and those below.
const LAYERS: [&str; 10] = [
    "domain",
    "error",
    "telemetry",
    "db",
    "services",
    "config",
    "auth",
    "mail",
    "web",
    "cli",
];

/// The most lines a file may have; generated files are exempt.
const MAX_LINES: usize = 600;
const GENERATED: [&str; 1] = ["db/schema.rs"];

type Module = Vec<String>;

struct Source {
    path: String,
    module: Module,
    text: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files
        .into_iter()
        .map(|file| {
            let path = file
                .strip_prefix(&root)
                .expect("under src")
                .to_string_lossy()
                .into_owned();
            let mut module: Module = path
                .trim_end_matches(".rs")
                .split('/')
                .map(str::to_owned)
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                module.pop();
            }
            let text = std::fs::read_to_string(&file).expect("a readable source file");
            Source { path, module, text }
        })
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// The text the program is made of: no test module, no comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The paths a `::`-separated path starting at `rest` names, with a
/// trailing `{…}` group expanded, and how many bytes it took.
fn paths_at(rest: &str) -> (Vec<Vec<String>>, usize) {
    let mut segments = Vec::new();
    let mut at = 0;
    loop {
        let ident: String = rest[at..].chars().take_while(|c| is_ident(*c)).collect();
        if ident.is_empty() {
            break;
        }
        at += ident.len();
        segments.push(ident);
        if !rest[at..].starts_with("::") {
            return (vec![segments], at);
        }
        at += 2;
    }
    if !rest[at..].starts_with('{') {
        return (vec![segments], at);
    }
    let mut depth = 0;
    let mut end = None;
    for (offset, c) in rest[at..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            end = Some(at + offset);
            break;
        }
    }
    let Some(end) = end else {
        return (vec![segments], at);
    };
    let group = &rest[at + 1..end];
    let mut items = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (offset, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..offset]);
                start = offset + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    let mut paths = Vec::new();
    for item in items {
        let item = item.trim();
        if item == "self" {
            paths.push(segments.clone());
        }
        if item.is_empty() || item == "self" {
            continue;
        }
        let (inner, _) = paths_at(item);
        for path in inner {
            paths.push(segments.iter().cloned().chain(path).collect());
        }
    }
    (paths, end + 1)
}

/// The files `source` imports.
fn imports(source: &Source, modules: &BTreeSet<Module>) -> BTreeSet<Module> {
    let code = code(&source.text);
    let parent: Module = source.module[..source.module.len().saturating_sub(1)].to_vec();
    let resolve = |path: &[String]| -> Option<Module> {
        (0..=path.len())
            .rev()
            .map(|len| path[..len].to_vec())
            .find(|prefix| modules.contains(prefix))
    };
    let mut found = BTreeSet::new();
    let mut at = 0;
    while let Some(offset) = code[at..].find("::") {
        let colons = at + offset;
        at = colons + 2;
        let before: String = code[..colons]
            .chars()
            .rev()
            .take_while(|c| is_ident(*c))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let start = colons - before.len();
        // `$crate::` in a macro names the path where the macro is used.
        if code[..start].ends_with("::") || code[..start].ends_with(|c: char| is_ident(c) || c == '$') {
            continue;
        }
        let base: Module = match before.as_str() {
            "crate" => Vec::new(),
            "super" => {
                let mut base = parent.clone();
                let mut rest = &code[at..];
                while let Some(further) = rest.strip_prefix("super::") {
                    base.pop();
                    rest = further;
                    at += "super::".len();
                }
                base
            }
            "self" => source.module.clone(),
            _ => continue,
        };
        let (paths, taken) = paths_at(&code[at..]);
        at += taken;
        for path in paths {
            let full: Vec<String> = base.iter().cloned().chain(path).collect();
            if let Some(module) = resolve(&full) {
                found.insert(module);
            }
        }
    }
    let mut line_start = 0;
    for line in code.split_inclusive('\n') {
        let indent = line.len() - line.trim_start().len();
        let at = line_start + indent;
        line_start += line.len();
        let Some(used) = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .find_map(|start| code[at..].strip_prefix(start))
        else {
            continue;
        };
        let (paths, _) = paths_at(used);
        for path in paths {
            if matches!(
                path.first().map(String::as_str),
                Some("crate" | "super" | "self" | "std")
            ) {
                continue;
            }
            let full: Vec<String> = source.module.iter().cloned().chain(path).collect();
            if let Some(module) = resolve(&full) {
                found.insert(module);
            }
        }
    }
    found.remove(&source.module);
    found
}

fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let sources = sources();
    let modules: BTreeSet<Module> = sources.iter().map(|source| source.module.clone()).collect();
    sources
        .iter()
        .map(|source| (source.module.clone(), imports(source, &modules)))
        .collect()
}

fn name(module: &Module) -> String {
    if module.is_empty() {
        "crate".to_owned()
    } else {
        module.join("/")
    }
}

/// A circle of imports, if there is one: each file imports the next.
fn circle(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        module: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        done: &mut BTreeSet<Module>,
        path: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(at) = path.iter().position(|on| on == module) {
            return Some(path[at..].to_vec());
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.clone());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(found) = visit(next, graph, done, path) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(module.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(module, graph, &mut done, &mut Vec::new()))
}

fn layer(module: &Module) -> Option<usize> {
    let top = module.first()?;
    LAYERS.iter().position(|layer| layer == top)
}

#[test]
fn no_file_imports_another_that_imports_it_back() {
    let graph = graph();
    if let Some(circle) = circle(&graph) {
        let names: Vec<String> = circle.iter().map(name).collect();
        panic!("a circle of imports: {} -> {}", names.join(" -> "), names[0]);
    }
}

#[test]
fn each_layer_imports_only_the_layers_below_it() {
    let mut wrong = Vec::new();
    for (module, imported) in graph() {
        let Some(own) = layer(&module) else {
            continue;
        };
        for target in imported {
            if layer(&target).is_some_and(|other| other > own) {
                wrong.push(format!("{} imports {}", name(&module), name(&target)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that point up ({}):\n{}",
        LAYERS.join(" < "),
        wrong.join("\n")
    );
}

#[test]
fn no_file_is_longer_than_one_reading() {
    let long: Vec<String> = sources()
        .into_iter()
        .filter(|source| !GENERATED.contains(&source.path.as_str()))
        .filter(|source| source.text.lines().count() > MAX_LINES)
        .map(|source| format!("{}: {} lines", source.path, source.text.lines().count()))
        .collect();
    assert!(
        long.is_empty(),
        "files past {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_reader_sees_paths_uses_and_groups() {
    let modules: BTreeSet<Module> = [
        vec![],
        vec!["services".to_owned()],
        vec!["services".to_owned(), "audit".to_owned()],
        vec!["services".to_owned(), "audit".to_owned(), "record".to_owned()],
        vec!["web".to_owned()],
        vec!["web".to_owned(), "state".to_owned()],
        vec!["mail".to_owned()],
    ]
    .into_iter()
    .collect();
    let source = Source {
        path: "services/audit/mod.rs".to_owned(),
        module: vec!["services".to_owned(), "audit".to_owned()],
        text: "mod record;\npub use record::{AuditEvent, record};\n\
               use crate::web::{self, state::AppState};\n\
               // crate::mail::Mailer is only named here\n\
               fn f() { super::super::mail::send(); }\n"
            .to_owned(),
    };
    let found: Vec<String> = imports(&source, &modules).iter().map(name).collect();
    assert_eq!(found, ["mail", "services/audit/record", "web", "web/state"]);
}
