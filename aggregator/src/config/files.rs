//! Checks of the files a configuration names (CA bundles, certificates, keys, token secrets)
//! and of `state_dir`, loaded the way the daemon loads them, so `--check-config` finds every
//! file the daemon would fail on.

use std::path::{Path, PathBuf};

use koji::ClientBuilder;

use super::{RawConfig, RawHubConfig, RawTlsConfig};
use crate::identity::TokenSecret;
use crate::tls::{self, TlsError, TlsFiles};

/// URL of the hub client that [`RawConfig::check_files`] builds to load the hub's files the
/// way the poller loads them. Building a client opens no connection, so any valid URL works.
const FILE_CHECK_HUB_URL: &str = "https://hub.invalid/kojihub";

impl RawConfig {
    /// Checks every file the configuration names, with the functions the daemon loads them
    /// with: the hub's CA bundle and client certificate, the token secrets (at least
    /// [`crate::identity::MIN_SECRET_BYTES`] bytes) and the TLS files. Also checks that
    /// `state_dir` is a writable directory or can be created. Returns one message per
    /// problem, each naming the key and the file.
    pub fn check_files(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(hub) = &self.hub {
            hub.check_files(&mut problems);
        }
        for (index, path) in self.push.token_secret_files.iter().enumerate() {
            if path.as_os_str().is_empty() {
                continue;
            }
            if let Err(error) = TokenSecret::load(path) {
                problems.push(format!("push.token_secret_files[{index}]: {error}"));
            }
        }
        if let Some(tls) = &self.tls {
            tls.check_files(&mut problems);
        }
        if let Some(problem) = check_state_dir(&self.state_dir) {
            problems.push(problem);
        }
        problems
    }
}

impl RawHubConfig {
    fn check_files(&self, problems: &mut Vec<String>) {
        let hub_client = || ClientBuilder::new(FILE_CHECK_HUB_URL);

        if let Some(ca_file) = set_path(&self.ca_file)
            && readable(problems, "hub.ca_file", ca_file)
            && let Err(error) = hub_client().ca_bundle(ca_file).build()
        {
            problems.push(format!("hub.ca_file: {}", client_error(error)));
        }

        let cert_file = set_path(&self.cert_file);
        let key_file = set_path(&self.key_file);
        let cert_readable = cert_file.is_some_and(|path| readable(problems, "hub.cert_file", path));
        let key_readable = key_file.is_some_and(|path| readable(problems, "hub.key_file", path));
        if let (Some(cert_file), Some(key_file), true, true) =
            (cert_file, key_file, cert_readable, key_readable)
            && let Err(error) = hub_client().identity(cert_file, key_file).build()
        {
            problems.push(format!(
                "hub.cert_file, hub.key_file: {}",
                client_error(error)
            ));
        }
    }
}

impl RawTlsConfig {
    fn check_files(&self, problems: &mut Vec<String>) {
        let files = [
            ("tls.cert_file", Some(&self.cert_file)),
            ("tls.key_file", Some(&self.key_file)),
            ("tls.client_ca_file", self.client_ca_file.as_ref()),
        ];
        let mut usable = true;
        for (key, path) in files {
            match path {
                Some(path) if path.as_os_str().is_empty() => usable = false,
                Some(path) => usable &= readable(problems, key, path),
                None => {}
            }
        }
        if !usable {
            return;
        }

        let tls_files = TlsFiles {
            cert_file: self.cert_file.clone(),
            key_file: self.key_file.clone(),
            client_ca_file: self.client_ca_file.clone(),
        };
        for error in tls::check_files(&tls_files) {
            let keys = match &error {
                TlsError::File { what, .. } => match *what {
                    tls::CERT_FILE => "tls.cert_file",
                    tls::KEY_FILE => "tls.key_file",
                    _ => "tls.client_ca_file",
                },
                TlsError::Config { .. } => "tls.cert_file, tls.key_file",
            };
            problems.push(format!("{keys}: {error}"));
        }
    }
}

/// Returns the path of an optional file key, or `None` when it is unset or empty (an empty
/// path is reported by the value checks).
fn set_path(path: &Option<PathBuf>) -> Option<&Path> {
    path.as_deref().filter(|path| !path.as_os_str().is_empty())
}

/// Reads `path` and returns whether that worked, adding a problem for `key` when it did not.
fn readable(problems: &mut Vec<String>, key: &str, path: &Path) -> bool {
    match std::fs::read(path) {
        Ok(_) => true,
        Err(error) => {
            problems.push(format!(
                "{key} = {:?}: cannot read the file ({error}); give a readable PEM file",
                path.display().to_string()
            ));
            false
        }
    }
}

/// The message of a hub client error, without the client's generic prefix.
fn client_error(error: koji::Error) -> String {
    match error {
        koji::Error::Config(message) => message,
        other => other.to_string(),
    }
}

/// Checks that `state_dir` is a writable directory, or that it can be created because its
/// nearest existing ancestor is a directory. Writability is checked by creating and
/// removing a probe file, as the user running the check.
fn check_state_dir(state_dir: &Path) -> Option<String> {
    if state_dir.as_os_str().is_empty() {
        return None;
    }
    let shown = state_dir.display().to_string();
    match std::fs::metadata(state_dir) {
        Ok(metadata) if !metadata.is_dir() => Some(format!(
            "state_dir = {shown:?}: exists but is not a directory; set state_dir to a \
             directory, such as \"/var/lib/koji-aggregator\""
        )),
        Ok(_) => {
            let probe = state_dir.join(format!(".check-config-{}", std::process::id()));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&probe)
            {
                Ok(_) => {
                    let _removed = std::fs::remove_file(&probe);
                    None
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => None,
                Err(error) => Some(format!(
                    "state_dir = {shown:?}: is not writable ({error}); make it writable for \
                     the service user, or set state_dir to another directory"
                )),
            }
        }
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            let ancestor = state_dir
                .ancestors()
                .skip(1)
                .map(|ancestor| {
                    if ancestor.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        ancestor
                    }
                })
                .find(|ancestor| ancestor.symlink_metadata().is_ok())?;
            if ancestor.is_dir() {
                use nix::unistd::{AccessFlags, access};

                return access(ancestor, AccessFlags::W_OK | AccessFlags::X_OK)
                    .err()
                    .map(|error| {
                        format!(
                            "state_dir = {shown:?}: does not exist and cannot be created, \
                             because {} is not writable ({error}); create state_dir for the \
                             service user, or set state_dir to another directory",
                            ancestor.display()
                        )
                    });
            }
            Some(format!(
                "state_dir = {shown:?}: does not exist and cannot be created, because {} is \
                 not a directory; set state_dir to another directory",
                ancestor.display()
            ))
        }
        Err(error) => Some(format!(
            "state_dir = {shown:?}: cannot be checked ({error}); make it a directory the \
             service user can write"
        )),
    }
}
