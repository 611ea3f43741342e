//! Platform certificates (certificate mode): `GET /v3/certificates` (Global:
//! `/v3/global/certificates`, the path `region.rs` gives), each certificate
//! decrypted with the merchant's APIv3 key, and when to download them again.
//!
//! Refresh policy: before an answer is verified, the certificates are downloaded when they are
//! older than 6 h, or once when the answer is signed by a serial the verifier does not know —
//! at most once a minute after a success, 2 s after a transient failure, an hour after WeChat
//! Pay said the merchant has no certificates (it must use public-key mode then).
//!
//! Uses `http/` to send and `auth` to decrypt and check; `http/` does not know this module
//! (the façade asks for a refresh as part of deciding whether to believe an answer).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tracing::{info, warn};

use super::api::codes;
use super::auth::{
    AEAD_ALGORITHM, PlatformCertificate, Verifier, VerifyError, decrypt_aead_aes_256_gcm,
    parse_certificate_pem,
};
use super::http::{ApiError, Http, Request, transient};
use crate::clock;
use crate::payment::PaymentError;

/// How often platform certificates are downloaded again (certificate mode).
const CERTIFICATE_REFRESH: Duration = Duration::from_secs(6 * 3600);

/// The APIv3 key and the download history of one merchant's platform certificates. The
/// certificates themselves live in the [`Verifier`], which uses them.
pub(crate) struct Certificates {
    /// The key that decrypts `/v3/certificates`.
    apiv3_key: Vec<u8>,
    /// Where they are downloaded from (`region::Api::certificates`).
    path: &'static str,
    fetch: Mutex<CertificateFetch>,
}

/// When platform certificates were last downloaded, or tried.
#[derive(Default)]
struct CertificateFetch {
    succeeded: Option<Instant>,
    /// No download before this: a minute after a success (an unknown serial does not
    /// trigger a storm of downloads), 2 s after a transient failure, an hour after WeChat
    /// Pay said the merchant has no certificates.
    next_allowed: Option<Instant>,
}

impl CertificateFetch {
    fn hold(&mut self, d: Duration) {
        self.next_allowed = Some(Instant::now() + d);
    }
}

impl Certificates {
    /// `apiv3_key`: the 32-byte APIv3 key, as checked by `setup.rs`; `path`: the region's
    /// certificates path.
    pub(crate) fn new(apiv3_key: Vec<u8>, path: &'static str) -> Certificates {
        Certificates {
            apiv3_key,
            path,
            fetch: Mutex::new(CertificateFetch::default()),
        }
    }

    /// Before an answer signed by `serial` (`None`: the answer named none) is verified:
    /// download when the certificates are older than 6 h, or once when `serial` is unknown —
    /// at most once a minute. A failure is logged; the verification that follows decides.
    pub(crate) async fn refresh_if_due(
        &self,
        http: &Http,
        verifier: &Verifier,
        serial: Option<&str>,
    ) {
        let (stale, may_try) = {
            let fetch = self.fetch.lock().unwrap_or_else(|p| p.into_inner());
            (
                fetch
                    .succeeded
                    .is_none_or(|at| at.elapsed() > CERTIFICATE_REFRESH),
                fetch.next_allowed.is_none_or(|at| Instant::now() >= at),
            )
        };
        let unknown = serial.is_some_and(|serial| !verifier.knows_serial(serial));
        if (stale || unknown)
            && may_try
            && let Err(e) = self.refresh(http, verifier).await
        {
            warn!(error = %e, "cannot download WeChat Pay platform certificates");
        }
    }

    /// Download, decrypt and check the platform certificates, and hand them to `verifier`.
    /// Returns how many there are.
    pub(crate) async fn refresh(
        &self,
        http: &Http,
        verifier: &Verifier,
    ) -> Result<usize, PaymentError> {
        let result = self.download(http, verifier).await;
        let mut fetch = self.fetch.lock().unwrap_or_else(|p| p.into_inner());
        match &result {
            Ok(_) => {
                fetch.succeeded = Some(Instant::now());
                fetch.hold(Duration::from_secs(60));
            }
            Err(PaymentError::Rejected { .. }) => fetch.hold(Duration::from_secs(3600)),
            Err(_) => fetch.hold(Duration::from_secs(2)),
        }
        result
    }

    async fn download(&self, http: &Http, verifier: &Verifier) -> Result<usize, PaymentError> {
        // The download itself is authenticated by AES-GCM with the APIv3 key; its answer
        // is then also checked against the certificates it carries. Not pinned to the
        // public key: the answer must be signed by one of these certificates.
        let request = Request::get(self.path).unpinned();
        let reply = http.send_once(http.api_base(), &request).await?;
        if reply.status == 404 {
            return Err(PaymentError::Rejected {
                code: codes::RESOURCE_NOT_EXISTS.into(),
                message: "this merchant has no platform certificates: use public-key mode \
                          (wechatpay.public_key_id and public_key_file, from the merchant \
                          platform's API安全 page) instead of apiv3_key_file"
                    .into(),
                request_id: reply.request_id,
            });
        }
        if !reply.is_success() {
            return Err(ApiError::read(&reply).into());
        }
        let certificates =
            parse_certificates_response(&reply.body, &self.apiv3_key).map_err(|e| {
                transient(
                    format!("platform certificates: {e}"),
                    reply.request_id.clone(),
                )
            })?;
        let check = Verifier::new();
        check.set_certificates(certificates.clone());
        reply.verify(&check, clock::now_ms() / 1000).map_err(|e| {
            transient(
                format!("platform certificates answer: {e}"),
                reply.request_id.clone(),
            )
        })?;
        let count = certificates.len();
        verifier.set_certificates(certificates);
        info!(count, serials = ?verifier.serials(), "WeChat Pay platform certificates loaded");
        Ok(count)
    }
}

#[derive(Deserialize)]
struct CertificatesResponse {
    data: Vec<CertificateEntry>,
}

#[derive(Deserialize)]
struct CertificateEntry {
    serial_no: String,
    encrypt_certificate: EncryptedCertificate,
}

#[derive(Deserialize)]
struct EncryptedCertificate {
    algorithm: String,
    nonce: String,
    associated_data: String,
    ciphertext: String,
}

/// Reads the body of `GET /v3/certificates`:
/// `{"data":[{"serial_no","effective_time","expire_time","encrypt_certificate":{"algorithm":
/// "AEAD_AES_256_GCM","nonce","associated_data","ciphertext"}}]}`.
///
/// Each certificate is decrypted with the APIv3 key, parsed, and its serial checked against
/// `serial_no` (case-insensitively). Unknown JSON fields are ignored. An empty list is an error:
/// WeChat Pay always lists at least one certificate to merchants that have them.
fn parse_certificates_response(
    body: &[u8],
    apiv3_key: &[u8],
) -> Result<Vec<PlatformCertificate>, VerifyError> {
    let response: CertificatesResponse = serde_json::from_slice(body).map_err(|e| {
        VerifyError::Certificate(format!(
            "the /v3/certificates answer is not the expected JSON ({e})"
        ))
    })?;
    if response.data.is_empty() {
        return Err(VerifyError::Certificate(
            "/v3/certificates listed no certificate: this merchant must use public-key mode \
             (configure the public key ID and pub_key.pem)"
                .into(),
        ));
    }
    response
        .data
        .into_iter()
        .map(|entry| {
            let enc = &entry.encrypt_certificate;
            if enc.algorithm != AEAD_ALGORITHM {
                return Err(VerifyError::Certificate(format!(
                    "certificate {} is encrypted with {:?}; only {AEAD_ALGORITHM} is supported",
                    entry.serial_no, enc.algorithm
                )));
            }
            let pem = decrypt_aead_aes_256_gcm(
                apiv3_key,
                &enc.nonce,
                &enc.associated_data,
                &enc.ciphertext,
            )?;
            let pem = String::from_utf8(pem).map_err(|_| {
                VerifyError::Certificate(format!(
                    "certificate {} decrypts to something that is not PEM text",
                    entry.serial_no
                ))
            })?;
            let cert = parse_certificate_pem(&pem)?;
            // Leading zeros are insignificant in a serial number (the certificate's is stored
            // without them).
            if !cert
                .serial
                .trim_start_matches('0')
                .eq_ignore_ascii_case(entry.serial_no.trim().trim_start_matches('0'))
            {
                return Err(VerifyError::Certificate(format!(
                    "the certificate listed as {} has serial {}: the list is inconsistent and not \
                     used",
                    entry.serial_no, cert.serial
                )));
            }
            Ok(cert)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechatpay::auth::encrypt_aead_aes_256_gcm;
    use crate::wechatpay::testkit::*;

    fn certificates_json(serial_no: &str, key: &[u8]) -> String {
        let nonce = "2f1a3b4c5d6e";
        let ciphertext =
            encrypt_aead_aes_256_gcm(key, nonce, "certificate", PLATFORM_CERT.as_bytes()).unwrap();
        serde_json::json!({
            "data": [{
                "serial_no": serial_no,
                "effective_time": "2026-11-27T09:55:01+08:00",
                "expire_time": "2046-11-22T09:55:01+08:00",
                "some_new_field": 1,
                "encrypt_certificate": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "nonce": nonce,
                    "associated_data": "certificate",
                    "ciphertext": ciphertext,
                }
            }]
        })
        .to_string()
    }

    #[test]
    fn certificates_response_round_trip() {
        let key = APIV3_KEY.trim().as_bytes();
        assert_eq!(key.len(), 32);
        let certs =
            parse_certificates_response(certificates_json(CERT_SERIAL, key).as_bytes(), key)
                .unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].serial, CERT_SERIAL);
        let verifier = Verifier::new();
        verifier.set_certificates(certs);
        verifier
            .verify(&signed(CERT_SERIAL, NOW, BODY), BODY, NOW)
            .unwrap();

        // Lower-case serial_no in the list is fine.
        parse_certificates_response(
            certificates_json(&CERT_SERIAL.to_lowercase(), key).as_bytes(),
            key,
        )
        .unwrap();
        // A mismatching serial_no, a wrong APIv3 key, an empty list and junk are refused.
        let err = parse_certificates_response(certificates_json("ABCDEF", key).as_bytes(), key)
            .unwrap_err();
        assert!(err.to_string().contains("inconsistent"), "{err}");
        let err =
            parse_certificates_response(certificates_json(CERT_SERIAL, key).as_bytes(), JAVA_KEY)
                .unwrap_err();
        assert!(matches!(err, VerifyError::Decrypt(_)), "{err}");
        let err = parse_certificates_response(br#"{"data":[]}"#, key).unwrap_err();
        assert!(err.to_string().contains("public-key mode"), "{err}");
        let err = parse_certificates_response(b"<html>", key).unwrap_err();
        assert!(matches!(err, VerifyError::Certificate(_)), "{err}");
    }
}
