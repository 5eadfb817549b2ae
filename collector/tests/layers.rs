//! The collector's layering, checked from its source: each top-level module imports only the
//! modules below it (ARCHITECTURE.md, "Invariants"), no two files import each other in a
//! circle, and the storage engine and the HTTP framework stay in their own layers.
//!
//! It reads `use` declarations and `crate::…`/`super::…` paths as text (test modules left out:
//! a test may build what it needs from anywhere), resolves each to the file that defines it, and
//! checks the resulting graph. `cargo test -p pulsetap-collector --test layers` runs it alone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module and the ones it may import. The order is the layering, bottom first.
const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("metrics", &[]),
    ("server", &[]),
    ("configuration", &["domain"]),
    ("email", &["domain"]),
    ("store", &["domain"]),
    ("service", &["domain", "email", "store"]),
    ("alerts", &["domain", "metrics", "store"]),
    ("state", &["domain", "metrics", "service", "store"]),
    (
        "routes",
        &["domain", "email", "metrics", "service", "state", "store"],
    ),
    (
        "startup",
        &[
            "alerts",
            "configuration",
            "domain",
            "routes",
            "server",
            "state",
            "store",
        ],
    ),
    (
        "cli",
        &["configuration", "domain", "email", "startup", "store"],
    ),
];

/// Crates a module may name only inside the layers that own them.
const CONFINED: &[(&str, &[&str])] = &[
    ("sled", &["store"]),
    ("fjall", &["store"]),
    ("tokio_postgres", &["store"]),
    ("deadpool_postgres", &["store"]),
    ("tokio_postgres_rustls", &["store"]),
    ("axum", &["routes", "server", "startup"]),
];

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let graph = Graph::of(&source_root());
    let mut breaks = Vec::new();
    for (from, to) in graph.edges() {
        let (from_top, to_top) = (top_module(&from), top_module(&to));
        if from_top == to_top || to_top.is_empty() || from_top.is_empty() {
            continue;
        }
        let allowed = LAYERS
            .iter()
            .find(|(module, _)| *module == from_top)
            .map_or(&[][..], |(_, allowed)| *allowed);
        if !allowed.contains(&to_top.as_str()) {
            breaks.push(format!("{} imports {}", from.display(), to.display()));
        }
    }
    assert!(
        breaks.is_empty(),
        "imports that break the layering:\n{}",
        breaks.join("\n")
    );
}

#[test]
fn no_two_files_import_each_other_in_a_circle() {
    let graph = Graph::of(&source_root());
    let circles = graph.circles();
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_storage_engine_and_the_http_framework_stay_in_their_layers() {
    let mut strays = Vec::new();
    for file in rust_files(&source_root()) {
        let text = without_tests(&std::fs::read_to_string(&file).unwrap());
        let top = top_module(&relative(&file));
        for (krate, owners) in CONFINED {
            let named = text.contains(&format!("{krate}::"));
            if named && !owners.contains(&top.as_str()) {
                strays.push(format!("{} names {krate}", relative(&file).display()));
            }
        }
    }
    assert!(strays.is_empty(), "{}", strays.join("\n"));
}

/// A file past this many lines holds more than one job: split it by job.
const MAX_LINES: usize = 500;

#[test]
fn no_source_file_grows_past_500_lines() {
    let long: Vec<String> = rust_files(&source_root())
        .into_iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            (lines > MAX_LINES).then(|| format!("{}: {lines} lines", relative(&file).display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// File-to-file imports, each file named relative to `src/`.
struct Graph(BTreeMap<PathBuf, BTreeSet<PathBuf>>);

impl Graph {
    fn of(root: &Path) -> Self {
        let mut graph = BTreeMap::new();
        for file in rust_files(root) {
            let from = relative(&file);
            let module = module_path(&from);
            let text = without_tests(&std::fs::read_to_string(&file).unwrap());
            let targets: BTreeSet<PathBuf> = paths_named(&text)
                .into_iter()
                .filter_map(|path| resolve(root, &module, &path))
                .filter(|target| *target != from)
                .collect();
            graph.insert(from, targets);
        }
        Self(graph)
    }

    fn edges(&self) -> Vec<(PathBuf, PathBuf)> {
        self.0
            .iter()
            .flat_map(|(from, targets)| targets.iter().map(move |to| (from.clone(), to.clone())))
            .collect()
    }

    /// Every file that can reach itself, with the way round.
    fn circles(&self) -> Vec<String> {
        let mut circles = Vec::new();
        for start in self.0.keys() {
            let mut stack = vec![(start.clone(), vec![start.clone()])];
            let mut seen = BTreeSet::new();
            while let Some((file, way)) = stack.pop() {
                for next in self.0.get(&file).into_iter().flatten() {
                    if next == start {
                        let names: Vec<String> =
                            way.iter().map(|f| f.display().to_string()).collect();
                        circles.push(format!("{} -> {}", names.join(" -> "), start.display()));
                    } else if seen.insert(next.clone()) {
                        let mut longer = way.clone();
                        longer.push(next.clone());
                        stack.push((next.clone(), longer));
                    }
                }
            }
        }
        circles
    }
}

fn rust_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !is_tests_file(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn relative(file: &Path) -> PathBuf {
    file.strip_prefix(source_root()).unwrap().to_path_buf()
}

/// `store/embedded/records.rs` is in `store`; `lib.rs` and `main.rs` are in none.
fn top_module(file: &Path) -> String {
    let first = file
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    let first = first.trim_end_matches(".rs");
    if file.components().count() == 1 && (first == "lib" || first == "main") {
        String::new()
    } else {
        first.to_owned()
    }
}

/// The module a file defines: `store/embedded/mod.rs` → `store::embedded`.
fn module_path(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The file defining the longest module prefix of `path` (`crate::…`, `super::…`, `self::…`).
fn resolve(root: &Path, module: &[String], path: &[String]) -> Option<PathBuf> {
    // A path starting with neither `crate` nor `super`/`self` names a child module (`use
    // child::Item` in a `mod.rs`), or another crate, which resolves to no file here.
    let mut absolute: Vec<String> = match path.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        _ => module.to_vec(),
    };
    let mut rest = path;
    if path[0] == "crate" {
        rest = &path[1..];
    }
    for segment in rest {
        match segment.as_str() {
            "super" => {
                absolute.pop();
            }
            "self" => {}
            _ => absolute.push(segment.clone()),
        }
    }
    (1..=absolute.len()).rev().find_map(|len| {
        let prefix = absolute[..len].join("/");
        [format!("{prefix}.rs"), format!("{prefix}/mod.rs")]
            .into_iter()
            .map(PathBuf::from)
            .find(|candidate| root.join(candidate).is_file())
    })
}

/// Every path a file names through `use` or inline (`crate::a::b`, `super::c`), as segments.
fn paths_named(text: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("use ") {
        let line_start = rest[..at].rfind('\n').map_or(0, |n| n + 1);
        let before = rest[line_start..at].trim();
        let is_use = matches!(before, "" | "pub" | "pub(crate)" | "pub(super)");
        let end = rest[at..].find(';').map_or(rest.len(), |n| at + n);
        if is_use {
            let tree: String = rest[at + 4..end].split_whitespace().collect();
            paths.extend(expand(&tree));
        }
        rest = &rest[(at + 4).min(rest.len())..];
    }
    for (at, _) in text
        .match_indices("crate::")
        .chain(text.match_indices("super::"))
    {
        let path: String = text[at..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        paths.push(segments(&path));
    }
    paths
}

/// `a::{b, c::{d}}` → `a::b`, `a::c::d`.
fn expand(tree: &str) -> Vec<Vec<String>> {
    let Some(open) = tree.find('{') else {
        return vec![segments(tree.split("as").next().unwrap_or(tree))];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|part| !part.is_empty())
        .flat_map(|part| expand(&format!("{prefix}{part}")))
        .collect()
}

fn segments(path: &str) -> Vec<String> {
    path.split("::")
        .filter(|s| !s.is_empty() && *s != "*")
        .map(str::to_owned)
        .collect()
}

/// The file without its `#[cfg(test)]` module (always last in this codebase's files).
/// A module's tests moved to their own file (`mod tests;`: `tests.rs`, and what it holds in a
/// `tests/` folder), skipped as inline tests are (`without_tests`): tests may use any layer.
fn is_tests_file(path: &Path) -> bool {
    path.file_name().is_some_and(|name| name == "tests.rs")
        || path
            .strip_prefix(source_root())
            .is_ok_and(|inside| inside.components().any(|part| part.as_os_str() == "tests"))
}

fn without_tests(text: &str) -> String {
    match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => text[..at].to_owned(),
        None => text.to_owned(),
    }
}
