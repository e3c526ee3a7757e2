//! The fuzz inputs kept in the repository, for the main workspace's tests
//! that run the fuzz checks (`#[path]`-included by backends/tests and
//! server/tests, both one directory below the root):
//! - `fuzz/seeds/<target>`: where fuzzing starts, made by those tests'
//!   seed functions and checked to be current (`UPDATE_FUZZ_SEEDS=1`
//!   rewrites them);
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

/// Checks that `target`'s checked-in seeds are `seeds`, so a change to a
/// format or to the request rules cannot leave the fuzzer starting from
/// stale inputs; with `UPDATE_FUZZ_SEEDS=1` in the environment, rewrites
/// them instead (then commit them).
pub fn check_seeds(target: &str, seeds: &[Vec<u8>]) {
    let dir = dir("seeds", target);
    let name = |i: usize| format!("seed-{i}");
    if std::env::var_os("UPDATE_FUZZ_SEEDS").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the seed directory");
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(dir.join(name(i)), seed).expect("writing a seed");
        }
        return;
    }
    let stale = "fuzz/seeds are stale: rerun this test with UPDATE_FUZZ_SEEDS=1 and commit them";
    let on_disk = std::fs::read_dir(&dir).map_or(0, |entries| entries.count());
    assert_eq!(on_disk, seeds.len(), "{}: {stale}", dir.display());
    for (i, seed) in seeds.iter().enumerate() {
        let path = dir.join(name(i));
        let saved = std::fs::read(&path).unwrap_or_default();
        assert!(saved == *seed, "{}: {stale}", path.display());
    }
}
