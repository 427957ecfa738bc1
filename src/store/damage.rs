//! Store failures as the user reads them: a damaged file is named as such, with what to do
//! about it, instead of SQLite's "database disk image is malformed"; every store failure
//! is [`Error::Store`] or, for a damaged file, [`Error::Damaged`]: a fault on this side (the
//! query API answers 500, not 400; the receiver tells senders not to retry a damaged file).

use std::path::Path;

use rusqlite::ErrorCode;

use crate::error::Error;

/// Whether SQLite found the file damaged (or not a database at all).
pub fn is_damage(error: &rusqlite::Error) -> bool {
    matches!(error.sqlite_error_code(), Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase))
}

/// A failure of the store at `path`.
pub fn store_error(path: &Path, error: &rusqlite::Error) -> Error {
    match is_damage(error) {
        true => damaged(path, &error.to_string()),
        false => Error::Store { path: path.to_path_buf(), message: format!("trace store {}: {error}", path.display()) },
    }
}

/// The store at `path` is damaged; `what` is what gave it away.
pub fn damaged(path: &Path, what: &str) -> Error {
    Error::Damaged { path: path.to_path_buf(), message: format!("{}. {}", damage(path, what), what_to_do(path)) }
}

/// `The trace store PATH is damaged (WHAT)`.
pub fn damage(path: &Path, what: &str) -> String {
    format!("The trace store {} is damaged ({what})", path.display())
}

/// What a user can do about a damaged store.
pub fn what_to_do(path: &Path) -> String {
    format!(
        "Move it (and its -wal and -shm files) aside and Vitals starts a new store, or run `vitals store repair --db {}` to keep what can be read",
        path.display()
    )
}
