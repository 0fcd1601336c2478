//! Replays every committed corpus file through its target's function with plain
//! `cargo test --manifest-path fuzz/Cargo.toml`: no fuzzing toolchain is needed for an input
//! that once crashed (or a seed) to stay a regression test.

use std::path::Path;

#[test]
fn every_corpus_file_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut total = 0;
    let mut failures = Vec::new();
    for (name, target) in switchyard_fuzz::TARGETS {
        let dir = root.join(name);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("no corpus for target {name} at {}: {e}", dir.display()));
        let mut n = 0;
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            let data = std::fs::read(&path).expect("a readable corpus file");
            if std::panic::catch_unwind(|| target(&data)).is_err() {
                failures.push(path.display().to_string());
            }
            n += 1;
        }
        assert!(n > 0, "the corpus of {name} is empty");
        total += n;
    }
    assert!(
        failures.is_empty(),
        "{} of {total} corpus files fail their target:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("replayed {total} corpus files");
}
