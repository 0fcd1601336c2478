//! The host's layering invariant (ARCHITECTURE.md, "Layers point down"): every module names only
//! modules of lower layers. This reads `host/src` and fails on any `crate::…` path that points
//! sideways or up, and on any module the table below does not place.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Lowest first. A module may use modules of earlier rows only (and itself).
const LAYERS: &[&[&str]] = &[
    &["auth", "clock", "conn", "metrics", "rate", "reply"],
    &["config"],
    &["store"],
    &["delivery"],
    &["handle"],
    &["edge::api", "edge::socket"],
    &["edge::demo"],
    &["server"],
];

/// Modules that only declare or re-export, and the binary, which uses the public API.
const UNRANKED: &[&str] = &["lib", "main", "edge"];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|row| row.contains(&module))
}

/// The module a file belongs to, as the table names it (`edge/api.rs` → `edge::api`,
/// `store/memory.rs` → `store`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .filter(|p| p != "mod")
        .collect();
    match parts.first().map(String::as_str) {
        Some("edge") if parts.len() > 1 => format!("edge::{}", parts[1]),
        Some(first) => first.to_owned(),
        None => String::new(),
    }
}

/// Every module a piece of Rust code names through `crate::`, at the depth the table uses.
fn referenced(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let first: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if first == "edge" {
            let after = rest["edge".len()..].strip_prefix("::").unwrap_or("");
            if let Some(group) = after.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for item in group.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.push(format!("edge::{name}"));
                    }
                }
            } else {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                out.push(format!("edge::{name}"));
            }
        } else if !first.is_empty() {
            out.push(first);
        }
    }
    out
}

fn strip_comments(code: &str) -> String {
    code.lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn host_layers_point_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut broken = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        if UNRANKED.contains(&module.as_str()) {
            continue;
        }
        let Some(own) = rank(&module) else {
            broken.push(format!(
                "{module} ({}) is in no layer: add it to LAYERS and ARCHITECTURE.md",
                file.display()
            ));
            continue;
        };
        *seen.entry(module.clone()).or_default() += 1;
        let code = strip_comments(&std::fs::read_to_string(file).unwrap());
        for used in referenced(&code) {
            if used == module {
                continue;
            }
            match rank(&used) {
                Some(r) if r < own => {}
                Some(_) => broken.push(format!("{module} uses {used}, which is not below it")),
                None => broken.push(format!("{module} uses {used}, which is in no layer")),
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
    for row in LAYERS {
        for m in *row {
            assert!(seen.contains_key(*m), "LAYERS names {m}, which has no file");
        }
    }
}

#[test]
fn the_check_sees_what_it_must() {
    // The parser is what the invariant rests on: it must find plain paths, groups and paths
    // in expressions, and nothing in comments.
    let code = "use crate::delivery::{Hub, HubError};\nuse crate::edge::{api, socket};\n\
                let x = crate::clock::now(); // crate::server::app\nuse crate::edge::demo::feed;";
    assert_eq!(
        referenced(&strip_comments(code)),
        [
            "delivery",
            "edge::api",
            "edge::socket",
            "clock",
            "edge::demo"
        ]
    );
    assert_eq!(rank("server"), Some(LAYERS.len() - 1));
}
