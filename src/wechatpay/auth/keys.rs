//! Reading keys and certificates: the PEM label, WeChat Pay's SPKI public key (public-key
//! mode), platform X.509 certificates (certificate mode), the minimum RSA size and Go's
//! spelling of certificate serials.
//!
//! Parsing only: nothing here signs or verifies (that is `sign.rs` and `verify.rs`), and
//! nothing knows where the PEM text came from (files are read by `setup.rs`, certificates
//! downloaded by `certificates.rs`).

use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::pkcs8::DecodePublicKey as _;
use rsa::traits::PublicKeyParts as _;
use x509_cert::Certificate;
use x509_cert::der::DecodePem as _;
use x509_cert::der::referenced::OwnedToRef as _;

use super::error::VerifyError;

/// An RSA public key (`rsa::PublicKey`; rsa 0.10 renamed `RsaPublicKey` to that).
pub(crate) use rsa::PublicKey as RsaPublicKey;

/// Smallest RSA key accepted, the merchant's as WeChat Pay's. WeChat Pay issues 2048-bit RSA
/// keys on both sides; anything smaller is not a WeChat Pay key (and is too weak to use).
pub(crate) const MIN_KEY_BITS: usize = 2048;

/// Largest RSA key accepted (what aws-lc verifies; WeChat Pay's keys are 2048-bit).
pub(crate) const MAX_KEY_BITS: usize = 8192;

/// The label of the first PEM block (`PRIVATE KEY` for `-----BEGIN PRIVATE KEY-----`), if any.
pub(crate) fn pem_label(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = &text[start..];
    let end = rest.find("-----")?;
    Some(&rest[..end])
}

/// One WeChat Pay platform certificate, reduced to what verification needs.
#[derive(Debug, Clone)]
pub(crate) struct PlatformCertificate {
    /// Serial number, upper-case hex without leading zeros (as `Wechatpay-Serial` sends it).
    pub(crate) serial: String,
    /// The certificate's RSA public key.
    pub(crate) public_key: RsaPublicKey,
    /// End of validity (notAfter), Unix seconds.
    pub(crate) not_after_unix: i64,
}

/// Reads a PEM (`BEGIN CERTIFICATE`) X.509 certificate holding an RSA key.
///
/// The certificate chain is not checked: platform certificates are trusted because they arrive
/// encrypted under the APIv3 key (see `certificates.rs`), as in the official SDKs.
pub(crate) fn parse_certificate_pem(pem: &str) -> Result<PlatformCertificate, VerifyError> {
    let cert = Certificate::from_pem(pem.trim()).map_err(|e| {
        VerifyError::Certificate(format!(
            "not a PEM X.509 certificate (\"BEGIN CERTIFICATE\"): {e}"
        ))
    })?;
    let tbs = cert.tbs_certificate();
    let serial = serial_hex(tbs.serial_number().as_bytes());
    let public_key =
        RsaPublicKey::try_from(tbs.subject_public_key_info().owned_to_ref()).map_err(|e| {
            VerifyError::Certificate(format!(
                "certificate {serial} does not hold a usable RSA public key ({e}); WeChat Pay RSA \
                 platform certificates do (request /v3/certificates without SM2)"
            ))
        })?;
    check_key_size(&public_key).map_err(VerifyError::Certificate)?;
    let not_after_unix =
        i64::try_from(tbs.validity().not_after.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    Ok(PlatformCertificate {
        serial,
        public_key,
        not_after_unix,
    })
}

/// Upper-case hex of a DER INTEGER's content without leading zero bytes (Go's `%X` of the serial).
fn serial_hex(der_bytes: &[u8]) -> String {
    let significant = match der_bytes.iter().position(|&b| b != 0) {
        Some(first) => &der_bytes[first..],
        None => return "0".to_owned(),
    };
    let mut hex: String = significant.iter().map(|b| format!("{b:02X}")).collect();
    // Go prints big integers without a leading zero nibble.
    if hex.len() > 1 && hex.starts_with('0') {
        hex.remove(0);
    }
    hex
}

fn check_key_size(key: &RsaPublicKey) -> Result<(), String> {
    let bits = key.size() * 8;
    if bits < MIN_KEY_BITS {
        return Err(format!(
            "the RSA key has only {bits} bits; WeChat Pay keys are 2048-bit"
        ));
    }
    if bits > MAX_KEY_BITS {
        return Err(format!(
            "the RSA key has {bits} bits, more than {MAX_KEY_BITS}; WeChat Pay keys are 2048-bit"
        ));
    }
    Ok(())
}

/// Reads a WeChat Pay public key for public-key mode: the SPKI `BEGIN PUBLIC KEY` PEM
/// (`pub_key.pem` from the merchant platform); a PKCS#1 `BEGIN RSA PUBLIC KEY` is accepted too.
pub(crate) fn parse_public_key_pem(pem: &str) -> Result<RsaPublicKey, VerifyError> {
    let pem = pem.trim();
    let key = match pem_label(pem) {
        Some("PUBLIC KEY") => RsaPublicKey::from_public_key_pem(pem).map_err(|e| {
            VerifyError::Key(format!(
                "pub_key.pem could not be read as an RSA public key ({e}): use the file \
                 downloaded from the merchant platform (账户中心 → API安全 → 微信支付公钥)"
            ))
        })?,
        Some("RSA PUBLIC KEY") => RsaPublicKey::from_pkcs1_pem(pem)
            .map_err(|e| VerifyError::Key(format!("invalid PKCS#1 RSA public key ({e})")))?,
        Some("CERTIFICATE") => {
            return Err(VerifyError::Key(
                "this is a certificate, not a public key: in public-key mode configure pub_key.pem \
                 (\"BEGIN PUBLIC KEY\"); platform certificates are downloaded by \
                 platform-certificate mode"
                    .into(),
            ));
        }
        Some(label) if label.contains("PRIVATE") => {
            return Err(VerifyError::Key(
                "this is a private key: configure WeChat Pay's public key pub_key.pem \
                 (\"BEGIN PUBLIC KEY\"), not the merchant's apiclient_key.pem"
                    .into(),
            ));
        }
        Some(label) => {
            return Err(VerifyError::Key(format!(
                "the file holds a \"{label}\" PEM block, not a public key: configure pub_key.pem \
                 (\"BEGIN PUBLIC KEY\")"
            )));
        }
        None => {
            return Err(VerifyError::Key(
                "not PEM text (no \"-----BEGIN PUBLIC KEY-----\" line): configure pub_key.pem as \
                 downloaded from the merchant platform"
                    .into(),
            ));
        }
    };
    check_key_size(&key).map_err(VerifyError::Key)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechatpay::testkit::*;

    #[test]
    fn fixture_certificate_parses() {
        let cert = parse_certificate_pem(PLATFORM_CERT).unwrap();
        assert_eq!(cert.serial, CERT_SERIAL);
        assert_eq!(cert.public_key, parse_public_key_pem(PLATFORM_PUB).unwrap());
        assert!(cert.not_after_unix > NOW);
    }
}
