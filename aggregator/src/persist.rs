//! Durable files: written to a temporary file in the same directory, flushed with fsync,
//! renamed over the old file, and the directory synced, so a crash at any moment leaves
//! either the old or the new content, never a mix.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A failure to read or write a durable file.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// The file exists but cannot be read.
    #[error("cannot read {path}: {source}; fix its permissions, or move it away to start afresh")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The file was read but its content is not what this version writes.
    #[error(
        "{path} is corrupt or was written by an incompatible version: {detail}; restore it from a backup, or move it away (for example to {path}.broken) to start afresh"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },

    /// The file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Writes `bytes` to `path` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PersistError> {
    let write_error = |source| PersistError::Write {
        path: path.to_path_buf(),
        source,
    };
    let directory = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty());
    let directory = directory.unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("state");
    let temporary = directory.join(format!(".{file_name}.tmp"));

    let mut file = File::create(&temporary).map_err(write_error)?;
    file.write_all(bytes).map_err(write_error)?;
    file.sync_all().map_err(write_error)?;
    drop(file);

    fs::rename(&temporary, path).map_err(write_error)?;
    File::open(directory)
        .and_then(|dir| dir.sync_all())
        .map_err(write_error)?;
    Ok(())
}

/// Serialises `value` as JSON and writes it with [`write_atomic`].
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), PersistError> {
    let bytes = serde_json::to_vec(value).map_err(|error| PersistError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(error),
    })?;
    write_atomic(path, &bytes)
}

/// Reads JSON written by [`write_json`]; `Ok(None)` when the file does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, PersistError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PersistError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|error| PersistError::Corrupt {
            path: path.to_path_buf(),
            detail: error.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");

        write_json(&path, &vec![1u64, 2, 3]).unwrap();

        assert_eq!(read_json::<Vec<u64>>(&path).unwrap(), Some(vec![1, 2, 3]));
        assert!(!dir.path().join(".state.json.tmp").exists());
    }

    #[test]
    fn missing_file_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();

        assert_eq!(
            read_json::<Vec<u64>>(&dir.path().join("absent.json")).unwrap(),
            None
        );
    }

    #[test]
    fn corrupt_file_names_path_and_choices() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, b"{\"version\": 1, trunc").unwrap();

        let message = read_json::<serde_json::Value>(&path)
            .unwrap_err()
            .to_string();

        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("move it away"), "{message}");
    }
}
