//! Choosing and opening a store: [`StoreConfig`] names a store and its
//! options, [`open_store`] opens it.
//!
//! The server reads a [`StoreConfig`] from its settings and passes it
//! through; what each store needs is decided here, beside the stores. A new
//! store adds one variant to [`StoreConfig`] and [`StoreKind`], and one arm
//! to [`open_store`] (see docs/storage.md, "Adding a store").

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{
    FileOptions, FileStore, MemoryOptions, MemoryStore, SqliteOptions, SqliteStore, Store,
    StoreError,
};

/// Which store keeps the messages, and that store's own options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreConfig {
    /// Memory only: everything is lost on exit.
    Memory {
        /// The memory store's options.
        options: MemoryOptions,
    },
    /// The append-only segment log in `root`.
    File {
        /// The data directory.
        root: PathBuf,
        /// Durability, segment size and recovery.
        options: FileOptions,
    },
    /// One SQLite database file in `root`.
    Sqlite {
        /// The data directory.
        root: PathBuf,
        /// Durability.
        options: SqliteOptions,
    },
}

/// The stores there are, by the name an operator gives them
/// (`MINIKAFKA_BACKEND`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// [`StoreConfig::Memory`].
    Memory,
    /// [`StoreConfig::File`].
    File,
    /// [`StoreConfig::Sqlite`].
    Sqlite,
}

impl StoreKind {
    /// Every kind, for help texts and tests.
    pub const ALL: [StoreKind; 3] = [Self::File, Self::Sqlite, Self::Memory];

    /// The kind's name: `file`, `sqlite` or `memory`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::File => "file",
            Self::Sqlite => "sqlite",
        }
    }

    /// The kind called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl StoreConfig {
    /// Which store this is.
    pub fn kind(&self) -> StoreKind {
        match self {
            Self::Memory { .. } => StoreKind::Memory,
            Self::File { .. } => StoreKind::File,
            Self::Sqlite { .. } => StoreKind::Sqlite,
        }
    }

    /// The data directory, for stores that keep one.
    pub fn root(&self) -> Option<&Path> {
        match self {
            Self::Memory { .. } => None,
            Self::File { root, .. } | Self::Sqlite { root, .. } => Some(root),
        }
    }
}

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the {kind} store in {root}: {cause}", root = .root.display())]
pub struct OpenStoreError {
    /// The store asked for.
    pub kind: StoreKind,
    /// Its data directory.
    pub root: PathBuf,
    /// Why, said in the message (not chained as a source, so that printing
    /// the chain says it once).
    pub cause: StoreError,
}

/// Opens the store `config` names, recovering it after a crash. Does
/// blocking file I/O: call it before serving, or on a blocking thread.
pub fn open_store(config: &StoreConfig) -> Result<Arc<dyn Store>, OpenStoreError> {
    let opened: Result<Arc<dyn Store>, StoreError> = match config {
        StoreConfig::Memory { options } => Ok(Arc::new(MemoryStore::with_options(*options))),
        StoreConfig::File { root, options } => {
            FileStore::open(root, *options).map(|store| Arc::new(store) as Arc<dyn Store>)
        }
        StoreConfig::Sqlite { root, options } => {
            SqliteStore::open(root, *options).map(|store| Arc::new(store) as Arc<dyn Store>)
        }
    };
    opened.map_err(|cause| OpenStoreError {
        kind: config.kind(),
        root: config.root().map(Path::to_owned).unwrap_or_default(),
        cause,
    })
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;

    #[test]
    fn kinds_are_found_by_their_names() {
        for kind in StoreKind::ALL {
            assert_eq!(StoreKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(StoreKind::from_name("postgres"), None);
    }

    #[test]
    fn a_failure_names_the_store_the_directory_and_the_cause_once() {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(dir.path().join("topics"), b"not a directory").expect("write");
        let config = StoreConfig::File {
            root: dir.path().to_owned(),
            options: FileOptions::default(),
        };
        let error = open_store(&config).map(drop).expect_err("topics is a file");
        assert!(error.source().is_none(), "the cause is in the message");
        let exists = std::io::Error::from_raw_os_error(17).to_string();
        assert_eq!(
            error.to_string(),
            format!(
                "cannot open the file store in {root}: creating {root}/topics: {exists}",
                root = dir.path().display()
            )
        );
    }

    #[test]
    fn a_second_store_on_the_same_directory_is_told_it_is_in_use() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = StoreConfig::Sqlite {
            root: dir.path().to_owned(),
            options: SqliteOptions::default(),
        };
        let _first = open_store(&config).expect("the first opens");
        let error = open_store(&config).map(drop).expect_err("locked");
        assert_eq!(
            error.to_string(),
            format!(
                "cannot open the sqlite store in {root}: {root} is in use by another minikafka server (it holds {root}/.lock)",
                root = dir.path().display()
            )
        );
    }
}
