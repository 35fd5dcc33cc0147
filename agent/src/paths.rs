//! Paths of the build host, resolved under the configurable root.

use std::path::{Path, PathBuf};

/// Resolves `path`, a path on the build host such as `/etc/kojid/kojid.conf`, under `root`.
///
/// With the root `/` the path is returned unchanged; with a fixture root such as
/// `tests/fixtures/busy` it becomes `tests/fixtures/busy/etc/kojid/kojid.conf`. A relative
/// `path` is joined to `root` as it is.
pub fn under_root(root: &Path, path: &Path) -> PathBuf {
    match path.strip_prefix("/") {
        Ok(relative) => root.join(relative),
        Err(_) => root.join(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_move_under_root() {
        let path = Path::new("/etc/kojid/kojid.conf");
        assert_eq!(under_root(Path::new("/"), path), path);
        assert_eq!(
            under_root(Path::new("/tmp/fixture"), path),
            Path::new("/tmp/fixture/etc/kojid/kojid.conf")
        );
        assert_eq!(
            under_root(Path::new("/tmp/fixture"), Path::new("var/lib/mock")),
            Path::new("/tmp/fixture/var/lib/mock")
        );
    }
}
