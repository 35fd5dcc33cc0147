//! Client certificates for reqwest: reading the PEM files, and hints for the errors that
//! reqwest reports about them only as "builder error" with the rustls error as the cause.
//! The hub client and the agent's push client both use it.

use std::path::Path;

use x509_parser::pem::Pem;
use x509_parser::x509::X509Version;

/// A client certificate and its key, read for reqwest and for the hints of errors.
pub struct IdentityFiles<'a> {
    cert_file: &'a Path,
    key_file: &'a Path,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
}

impl<'a> IdentityFiles<'a> {
    /// Reads both files; the error names the file that cannot be read.
    pub fn read(cert_file: &'a Path, key_file: &'a Path) -> Result<Self, String> {
        let cert_pem = std::fs::read(cert_file)
            .map_err(|e| format!("cannot read cert_file {}: {e}", cert_file.display()))?;
        let key_pem = std::fs::read(key_file)
            .map_err(|e| format!("cannot read key_file {}: {e}", key_file.display()))?;
        Ok(Self::from_pem(cert_file, key_file, cert_pem, key_pem))
    }

    /// The certificate `cert_pem` and key `key_pem`, already read from `cert_file` and
    /// `key_file`.
    pub fn from_pem(
        cert_file: &'a Path,
        key_file: &'a Path,
        cert_pem: Vec<u8>,
        key_pem: Vec<u8>,
    ) -> Self {
        Self {
            cert_file,
            key_file,
            cert_pem,
            key_pem,
        }
    }

    /// The certificate file.
    pub fn cert_file(&self) -> &Path {
        self.cert_file
    }

    /// The key file.
    pub fn key_file(&self) -> &Path {
        self.key_file
    }

    /// Returns both files as one PEM text, the form `reqwest::Identity::from_pem` reads.
    pub fn pem(&self) -> Vec<u8> {
        let mut pem = self.cert_pem.clone();
        pem.push(b'\n');
        pem.extend_from_slice(&self.key_pem);
        pem
    }

    /// Returns a hint for the common causes of `error` when reqwest rejects the pair, as
    /// `"; hint"`, or an empty string. reqwest only reports "builder error" and the rustls
    /// error, so the files are inspected for the cause.
    pub fn hint(&self, error: &reqwest::Error) -> String {
        let (cert, key) = (self.cert_file.display(), self.key_file.display());
        let pem = self.pem();
        let labels = pem_labels(&pem);
        let has = |label: &str| labels.iter().any(|found| found == label);

        let hint = if !has("CERTIFICATE") {
            format!(
                "cert_file {cert} contains no PEM certificate (-----BEGIN CERTIFICATE-----); \
                 convert a DER certificate with openssl x509 -inform der -in {cert} -out \
                 NEW_FILE"
            )
        } else if !PRIVATE_KEY_LABELS.iter().any(|label| has(label)) {
            if has("ENCRYPTED PRIVATE KEY") {
                format!(
                    "key_file {key} is encrypted, and the agent cannot decrypt it; write it \
                     unencrypted with openssl pkey -in {key} -out NEW_FILE"
                )
            } else {
                format!(
                    "key_file {key} contains no PEM private key (-----BEGIN PRIVATE KEY-----, \
                     RSA PRIVATE KEY or EC PRIVATE KEY)"
                )
            }
        } else if has_key_mismatch(error) {
            format!(
                "key_file {key} is not the private key of cert_file {cert}: the output of \
                 openssl x509 -noout -pubkey -in {cert} and of openssl pkey -pubout -in {key} \
                 must be the same"
            )
        } else if first_certificate_version(&self.cert_pem) == Some(X509Version::V1) {
            format!(
                "cert_file {cert} is an X.509 v1 certificate, which rustls rejects; issue a v3 \
                 certificate (OpenSSL writes v3 when the certificate has extensions, such as \
                 openssl x509 -req -extfile FILE)"
            )
        } else {
            return String::new();
        };
        format!("; {hint}")
    }
}

/// PEM labels of the private key formats that `reqwest::Identity::from_pem` reads: PKCS#8,
/// PKCS#1 and SEC1.
const PRIVATE_KEY_LABELS: [&str; 3] = ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"];

/// Returns the labels of the PEM blocks in `pem`, up to the first block that is not valid.
fn pem_labels(pem: &[u8]) -> Vec<String> {
    Pem::iter_from_buffer(pem)
        .map_while(Result::ok)
        .map(|block| block.label)
        .collect()
}

/// Returns the X.509 version of the first certificate in `pem`, if it parses.
fn first_certificate_version(pem: &[u8]) -> Option<X509Version> {
    let block = Pem::iter_from_buffer(pem)
        .map_while(Result::ok)
        .find(|block| block.label == "CERTIFICATE")?;
    let certificate = block.parse_x509().ok()?;
    Some(certificate.version())
}

/// Returns true when rustls found that the private key does not belong to the certificate.
fn has_key_mismatch(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(cause) = source {
        if let Some(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) =
            cause.downcast_ref::<rustls::Error>()
        {
            return true;
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_hints_name_key_problems() {
        let cert_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls/monitoring.crt");
        let key_file = Path::new("/etc/koji-agent/agent.key");
        let cases = [
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
                "; key_file /etc/koji-agent/agent.key is encrypted",
            ),
            (
                "not a key\n",
                "; key_file /etc/koji-agent/agent.key contains no PEM private key",
            ),
        ];
        for (key_pem, expected) in cases {
            let files = IdentityFiles {
                cert_file: &cert_file,
                key_file,
                cert_pem: std::fs::read(&cert_file).unwrap(),
                key_pem: key_pem.as_bytes().to_vec(),
            };
            let error = reqwest::Identity::from_pem(&files.pem()).unwrap_err();

            let hint = files.hint(&error);
            assert!(hint.starts_with(expected), "{hint}");
        }
    }
}
