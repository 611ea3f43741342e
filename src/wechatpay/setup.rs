//! Setting the client up from the `[wechatpay]` settings: the key files read (and refused
//! when others, or a group other than the daemon's, can read them: 0600, or 0640 with the
//! daemon's group), the merchant signer, the verifier of the configured
//! trust mode, the APIv3 key, and the HTTP client with its timeouts, User-Agent and CA file.
//!
//! Runs once at start-up (and in `check-config`, which reports every problem at once with
//! [`check_key_files`]), so every problem is found before the first payment; each
//! [`SetupError`] names the file or key at fault. Knows the settings and the file system;
//! the rest of `wechatpay/` knows neither.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::auth::{MerchantSigner, SignError, Verifier, VerifyError};
use crate::config::WechatPaySettings;

/// Why the client could not be set up. Each message names the file or key at fault.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A key file (merchant key, WeChat Pay public key or APIv3 key) could not be read:
    /// missing, or not readable by the daemon's user. Fix the setting or the file's owner.
    #[error("cannot read {what} {path}: {source}; check wechatpay.{key} and the file's owner")]
    Read {
        /// What the file should hold, in words ("the merchant private key").
        what: &'static str,
        /// The setting under `[wechatpay]` that names the file (`private_key_file`).
        key: &'static str,
        /// The file as configured.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A private key file (merchant key or APIv3 key) is open to others, writable by its
    /// group, or readable by a group that is not the daemon's own, so it is refused. Accepted
    /// modes: 0600 (owner only), and 0640 when the file's group is the daemon's effective
    /// group (root:wxprint, as packagers install keys).
    #[error(
        "{path} is {why} (mode {mode:04o}); a key file must be private to the daemon: run `chmod 600 {path}` with the daemon's user as owner, or `chown :{daemon_gid} {path}` and `chmod 640 {path}` to share it with the daemon's group (gid {daemon_gid})"
    )]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits (`mode & 0o777`, e.g. `0o644`).
        mode: u32,
        /// Who else can read it, in words ("readable by others", "readable by group 27,
        /// which is not the daemon's group 998").
        why: String,
        /// The daemon's effective group id, the only group that may read a key file.
        daemon_gid: u32,
    },
    /// The merchant signer was refused: `private_key_file` holds no usable RSA private key
    /// (PKCS#8 or PKCS#1, unencrypted, at least 2048 bits), or `mchid` or
    /// `merchant_serial_no` is malformed; the [`SignError`] says which.
    #[error("wechatpay.private_key_file {path}: {source}")]
    PrivateKey {
        /// The configured `private_key_file`.
        path: PathBuf,
        /// Why the signer refused it.
        source: SignError,
    },
    /// `public_key_file` was read but holds no usable WeChat Pay public key (public-key mode).
    #[error("wechatpay.public_key_file {path}: {source}")]
    PublicKey {
        /// The configured `public_key_file`.
        path: PathBuf,
        /// Why the verifier refused it.
        source: VerifyError,
    },
    /// The APIv3 key (certificate mode) is not 32 bytes once surrounding white space is
    /// removed; copy it again from the merchant platform.
    #[error(
        "wechatpay.apiv3_key_file {path}: the APIv3 key must be exactly 32 bytes, found {len}; copy it again from the merchant platform (API安全 → APIv3密钥)"
    )]
    ApiV3Key {
        /// The configured `apiv3_key_file`.
        path: PathBuf,
        /// The key's length in bytes, white space trimmed.
        len: usize,
    },
    /// `ca_file` could not be read or holds no PEM certificate.
    #[error("wechatpay.ca_file {path}: {message}")]
    CaFile {
        /// The configured `ca_file`.
        path: PathBuf,
        /// What went wrong: the read error, or why the PEM bundle was refused.
        message: String,
    },
    /// Neither trust mode is configured, so no answer from WeChat Pay could be verified: set
    /// `public_key_id` and `public_key_file`, or `apiv3_key_file`.
    #[error(
        "no way to verify WeChat Pay's answers: set public_key_id and public_key_file (public-key mode) or apiv3_key_file (certificate mode)"
    )]
    NoTrust,
    /// The HTTP client could not be built; the message is reqwest's.
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// The merchant's signer: `private_key_file` (private to the daemon's user), `mchid` and
/// `merchant_serial_no`.
pub(crate) fn load_signer(s: &WechatPaySettings) -> Result<MerchantSigner, SetupError> {
    let key_pem = read_private(
        &s.private_key_file,
        "the merchant private key",
        "private_key_file",
    )?;
    let key_pem = String::from_utf8_lossy(&key_pem);
    MerchantSigner::from_pkcs8_pem(&s.mchid, &s.merchant_serial_no, &key_pem).map_err(|source| {
        SetupError::PrivateKey {
            path: s.private_key_file.clone(),
            source,
        }
    })
}

/// The verifier with WeChat Pay's public key when `public_key_id` is set (public-key mode),
/// and that ID; an empty verifier and `None` otherwise (certificates are added later).
pub(crate) fn load_verifier(
    s: &WechatPaySettings,
) -> Result<(Verifier, Option<String>), SetupError> {
    if s.public_key_id.is_empty() {
        return Ok((Verifier::new(), None));
    }
    let pem = std::fs::read_to_string(&s.public_key_file).map_err(|source| SetupError::Read {
        what: "the WeChat Pay public key",
        key: "public_key_file",
        path: s.public_key_file.clone(),
        source,
    })?;
    let verifier = Verifier::new()
        .with_public_key(&s.public_key_id, &pem)
        .map_err(|source| SetupError::PublicKey {
            path: s.public_key_file.clone(),
            source,
        })?;
    Ok((verifier, Some(s.public_key_id.clone())))
}

/// The 32-byte APIv3 key of `apiv3_key_file` (certificate mode), surrounding white space
/// removed; `None` when the key is not configured.
pub(crate) fn load_apiv3_key(s: &WechatPaySettings) -> Result<Option<Vec<u8>>, SetupError> {
    let Some(path) = &s.apiv3_key_file else {
        return Ok(None);
    };
    let key = read_private(path, "the APIv3 key", "apiv3_key_file")?;
    let key = key.trim_ascii().to_vec();
    if key.len() != 32 {
        return Err(SetupError::ApiV3Key {
            path: path.clone(),
            len: key.len(),
        });
    }
    Ok(Some(key))
}

/// Every key-file problem at once, for `check-config` ([`super::WechatPay::from_settings`]
/// stops at the first): the merchant private key, the WeChat Pay public key, the APIv3 key,
/// the CA file, and whether any trust mode is configured. Empty when all are usable.
pub fn check_key_files(s: &WechatPaySettings) -> Vec<SetupError> {
    let mut problems = Vec::new();
    if let Err(e) = load_signer(s) {
        problems.push(e);
    }
    let public_key = load_verifier(s).map(|(_, id)| id.is_some());
    let apiv3_key = load_apiv3_key(s).map(|key| key.is_some());
    if matches!((&public_key, &apiv3_key), (Ok(false), Ok(false))) {
        problems.push(SetupError::NoTrust);
    }
    problems.extend(public_key.err());
    problems.extend(apiv3_key.err());
    if let Err(e) = http_client(s, &user_agent()) {
        problems.push(e);
    }
    problems
}

/// `wxprint/<version> (<os> <arch>)`, sent with every request.
pub(crate) fn user_agent() -> String {
    format!(
        "wxprint/{} ({} {})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// The HTTP client: `request_timeout` (at most 5 s to connect), the User-Agent, and the extra
/// CA certificates of `ca_file` (for a private CA).
pub(crate) fn http_client(
    s: &WechatPaySettings,
    user_agent: &str,
) -> Result<reqwest::Client, SetupError> {
    let mut http = super::http::pooled(reqwest::Client::builder())
        .timeout(s.request_timeout)
        .connect_timeout(s.request_timeout.min(Duration::from_secs(5)))
        .user_agent(user_agent);
    if let Some(ca) = &s.ca_file {
        let pem = std::fs::read(ca).map_err(|e| SetupError::CaFile {
            path: ca.clone(),
            message: e.to_string(),
        })?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| SetupError::CaFile {
                path: ca.clone(),
                message: format!("not a PEM certificate: {e}"),
            })?;
        http = http.tls_certs_merge(certs);
    }
    http.build().map_err(|e| SetupError::Http(e.to_string()))
}

/// Read a key file, refusing one that others, or a group other than the daemon's, can read.
fn read_private(path: &Path, what: &'static str, key: &'static str) -> Result<Vec<u8>, SetupError> {
    use std::os::unix::fs::MetadataExt;
    let read_err = |source| SetupError::Read {
        what,
        key,
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    let mode = meta.mode() & 0o777;
    // SAFETY: getegid has no preconditions and cannot fail.
    let daemon_gid = unsafe { libc::getegid() };
    if let Some(why) = mode_problem(mode, meta.gid(), daemon_gid) {
        return Err(SetupError::Permissions {
            path: path.to_owned(),
            mode,
            why,
            daemon_gid,
        });
    }
    std::fs::read(path).map_err(read_err)
}

/// Why a key file with permission bits `mode` and group `file_gid` is not private to a
/// daemon whose effective group is `daemon_gid`: 0600 is, and 0640 is when the file's group
/// is the daemon's.
fn mode_problem(mode: u32, file_gid: u32, daemon_gid: u32) -> Option<String> {
    if mode & 0o007 != 0 {
        Some("open to others (readable by any user)".to_string())
    } else if mode & 0o030 != 0 {
        Some(format!("writable by its group {file_gid}"))
    } else if mode & 0o040 != 0 && file_gid != daemon_gid {
        Some(format!(
            "readable by group {file_gid}, which is not the daemon's group {daemon_gid}"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::mode_problem;

    #[test]
    fn key_file_modes() {
        assert_eq!(mode_problem(0o600, 5, 7), None);
        assert_eq!(mode_problem(0o400, 5, 7), None);
        assert_eq!(mode_problem(0o640, 7, 7), None);
        assert_eq!(mode_problem(0o440, 7, 7), None);
        let refused = |mode, gid| mode_problem(mode, gid, 7).unwrap();
        assert!(refused(0o644, 7).contains("others"));
        assert!(refused(0o604, 7).contains("others"));
        assert!(refused(0o660, 7).contains("writable by its group 7"));
        assert_eq!(
            refused(0o640, 5),
            "readable by group 5, which is not the daemon's group 7"
        );
    }
}
