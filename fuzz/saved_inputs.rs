//! The fuzz inputs kept in the repository, for the main workspace's tests
//! that run the fuzz checks (`#[path]`-included by backends/tests and
//! server/tests, both one directory below the root):
//! - `fuzz/seeds/<target>`: where fuzzing starts, written by those tests'
//!   ignored `write_seeds`;
//! - `fuzz/regressions/<target>`: inputs that once failed a check, kept
//!   so the failure stays fixed.

use std::path::{Path, PathBuf};

fn dir(kind: &str, target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(kind)
        .join(target)
}

/// Every seed and regression input of `target`, as (path, bytes), sorted.
pub fn saved(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for kind in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(dir(kind, target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            let bytes = std::fs::read(&path).expect("reading a saved input");
            files.push((path.display().to_string(), bytes));
        }
    }
    files.sort();
    assert!(
        files.iter().any(|(path, _)| path.contains("seeds")),
        "fuzz/seeds/{target} holds the seeds"
    );
    files
}

/// Replaces `target`'s seeds with `seeds`.
pub fn write_seeds(target: &str, seeds: &[Vec<u8>]) {
    let dir = dir("seeds", target);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating the seed directory");
    for (i, seed) in seeds.iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i}")), seed).expect("writing a seed");
    }
}
