//! The `certificate` collector: expiry of kojid's client certificate.
//!
//! The file named by `cert` in kojid.conf is read under the root and only parsed: the agent
//! never logs in with it. Like kojid, which logs in with the certificate only when the file
//! exists, a missing file at kojid's default path is no failure (the builder then logs in
//! another way), while a missing file that kojid.conf names is one. While kojid.conf cannot
//! be read, the collector fails instead of reading the default path, because the file may
//! name another certificate.

use koji_metrics::contract::BUILDER_CLIENT_CERT_EXPIRY_TIMESTAMP_SECONDS;
use x509_parser::pem::Pem;

use super::{CollectError, CollectFuture, Collector, Cycle, Families};

/// The collector's name.
pub const NAME: &str = "certificate";

/// Reports when kojid's client certificate expires.
#[derive(Debug)]
pub struct CertificateCollector;

impl Collector for CertificateCollector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn collect<'a>(&'a mut self, cycle: &'a mut Cycle, out: &'a mut Families) -> CollectFuture<'a> {
        Box::pin(std::future::ready(collect(cycle, out)))
    }
}

fn collect(cycle: &Cycle, out: &mut Families) -> Result<(), CollectError> {
    let settings = cycle.kojid_settings("kojid's client certificate (cert)")?;
    let configured = settings.cert.is_some();
    let path = cycle.path(settings.cert_path());

    let pem = match std::fs::read(&path) {
        Ok(pem) => pem,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !configured => {
            tracing::debug!(
                path = %path.display(),
                "kojid.conf sets no cert and the default certificate does not exist; \
                 nothing to report"
            );
            return Ok(());
        }
        Err(error) => {
            return Err(CollectError::new(format!(
                "cannot read kojid's client certificate {}: {error}",
                path.display()
            )));
        }
    };

    let expiry = leaf_expiry(&pem).map_err(|message| {
        CollectError::new(format!(
            "kojid's client certificate {} {message}",
            path.display()
        ))
    })?;
    out.gauge(
        &BUILDER_CLIENT_CERT_EXPIRY_TIMESTAMP_SECONDS,
        &[&cycle.host],
        expiry as f64,
    )?;
    Ok(())
}

/// Returns the expiry (`notAfter`, seconds since the Unix epoch) of the first certificate in
/// a PEM file. Other blocks, such as a private key before it, are skipped; in a chain the
/// first certificate is the leaf.
pub fn leaf_expiry(pem: &[u8]) -> Result<i64, String> {
    for block in Pem::iter_from_buffer(pem) {
        let block = block.map_err(|error| format!("is not valid PEM: {error}"))?;
        if block.label != "CERTIFICATE" {
            continue;
        }
        let certificate = block
            .parse_x509()
            .map_err(|error| format!("holds a CERTIFICATE block that is not X.509: {error}"))?;
        return Ok(certificate.validity().not_after.timestamp());
    }
    Err("contains no PEM certificate (no -----BEGIN CERTIFICATE----- block)".to_string())
}
