//! Platform certificates (certificate mode): `GET /v3/certificates` (Global:
//! `/v3/global/certificates`, the path `region.rs` gives), each certificate
//! decrypted with the merchant's APIv3 key, and when to download them again.
//!
//! When to download (`certificates/fetch.rs`): at the first answer and every 6 h (WeChat
//! Pay asks for < 12 h), and at once when an answer is signed by a serial the verifier does
//! not know (a rotated certificate is used from its first answer); only repeats of the same
//! unknown serial are held, for a minute. One download at a time: answers waiting for the
//! same new serial share it. Expired certificates are dropped before each answer is checked
//! and after each download, so an answer signed by one asks for a download too.
//!
//! Uses `http/` to send and `auth` to decrypt and check; `http/` does not know this module
//! (the façade asks for a refresh as part of deciding whether to believe an answer).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use serde::Deserialize;
use tracing::{info, warn};

use super::api::codes;
use super::auth::{
    AEAD_ALGORITHM, PlatformCertificate, Verifier, VerifyError, decrypt_aead_aes_256_gcm,
    parse_certificate_pem,
};
use super::http::{ApiError, Http, Request, metered_believed, transient};
use crate::clock;
use crate::payment::PaymentError;

mod fetch;

use fetch::{FetchPolicy, Outcome};

/// The APIv3 key and the download history of one merchant's platform certificates. The
/// certificates themselves live in the [`Verifier`], which uses them.
pub(crate) struct Certificates {
    /// The key that decrypts `/v3/certificates`.
    apiv3_key: Vec<u8>,
    /// Where they are downloaded from (`region::Api::certificates`).
    path: &'static str,
    policy: Mutex<FetchPolicy>,
    /// Held while a download is under way: one at a time.
    downloading: tokio::sync::Mutex<()>,
    /// Whether the merchant (with a public key) was told once that it has no platform
    /// certificates and what its APIv3 key is for.
    told_no_certificates: AtomicBool,
}

impl Certificates {
    /// `apiv3_key`: the 32-byte APIv3 key, as checked by `setup.rs`; `path`: the region's
    /// certificates path.
    pub(crate) fn new(apiv3_key: Vec<u8>, path: &'static str) -> Certificates {
        Certificates {
            apiv3_key,
            path,
            policy: Mutex::new(FetchPolicy::default()),
            downloading: tokio::sync::Mutex::new(()),
            told_no_certificates: AtomicBool::new(false),
        }
    }

    fn policy(&self) -> MutexGuard<'_, FetchPolicy> {
        self.policy.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Before an answer signed by `serial` (`None`: the answer named none) is verified:
    /// drop expired certificates, then download when the rule of `fetch.rs` says so. A
    /// failure is logged; the verification that follows decides.
    pub(crate) async fn refresh_if_due(
        &self,
        http: &Http,
        verifier: &Verifier,
        serial: Option<&str>,
    ) {
        purge_expired(verifier);
        let unknown = || serial.filter(|serial| !verifier.knows_serial(serial));
        if !self.policy().due(Instant::now(), unknown()) {
            return;
        }
        let _one_at_a_time = self.downloading.lock().await;
        // Asked again: the download this one waited for may have brought the serial.
        let unknown = unknown();
        if !self.policy().begin(Instant::now(), unknown) {
            return;
        }
        if let Err(e) = self.download_and_record(http, verifier, unknown).await
            && !no_certificates_but_a_public_key(&e, verifier)
        {
            warn!(error = %e, "cannot download WeChat Pay platform certificates");
        }
    }

    /// Download, decrypt and check the platform certificates, and hand them to `verifier`,
    /// now (at start and by `check-config --online`). Returns how many there are.
    pub(crate) async fn refresh(
        &self,
        http: &Http,
        verifier: &Verifier,
    ) -> Result<usize, PaymentError> {
        let _one_at_a_time = self.downloading.lock().await;
        self.policy().started(None);
        self.download_and_record(http, verifier, None).await
    }

    /// One download, made for the serial `unknown` if any, and its outcome recorded.
    async fn download_and_record(
        &self,
        http: &Http,
        verifier: &Verifier,
        unknown: Option<&str>,
    ) -> Result<usize, PaymentError> {
        let result = self.download(http, verifier).await;
        let outcome = match &result {
            Ok(_) => Outcome::Loaded,
            Err(PaymentError::Rejected { .. }) => Outcome::NoCertificates,
            Err(_) => Outcome::Failed,
        };
        let still_unknown = unknown.is_some_and(|serial| !verifier.knows_serial(serial));
        if outcome == Outcome::Loaded
            && let Some(serial) = unknown.filter(|_| still_unknown)
        {
            warn!(
                serial,
                "a WeChat Pay answer names a platform certificate that WeChat Pay does not list; \
                 such answers are refused (the serial is looked up again in a minute)"
            );
        }
        self.policy()
            .finished(Instant::now(), outcome, still_unknown);
        result
    }

    async fn download(&self, http: &Http, verifier: &Verifier) -> Result<usize, PaymentError> {
        // The download itself is authenticated by AES-GCM with the APIv3 key; its answer
        // is then also checked against the certificates it carries. Not pinned to the
        // public key: the answer must be signed by one of these certificates.
        let request = Request::get(self.path).unpinned();
        let reply = http.send_once(http.api_base(), &request).await?;
        if reply.status == 404 {
            let public_key = verifier.public_key_id().is_some();
            if public_key && !self.told_no_certificates.swap(true, Ordering::Relaxed) {
                info!("{}", no_certificates_message(true));
            }
            return Err(PaymentError::Rejected {
                code: codes::RESOURCE_NOT_EXISTS.into(),
                message: no_certificates_message(public_key).into(),
                request_id: reply.request_id,
            });
        }
        if !reply.is_success() {
            return Err(ApiError::read(&reply).into());
        }
        let checked: Result<_, PaymentError> = (|| {
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
            Ok(certificates)
        })();
        metered_believed(&request, &reply, checked.is_ok());
        let certificates = checked?;
        let listed = certificates.len();
        verifier.set_certificates(certificates);
        let count = listed - purge_expired(verifier);
        info!(count, serials = ?verifier.serials(), "WeChat Pay platform certificates loaded");
        Ok(count)
    }
}

/// What WeChat Pay's `404 RESOURCE_NOT_EXISTS` to the download means: the merchant has no
/// platform certificates (new merchants since late 2024). With a public key configured
/// that is normal: answers are verified with it, and the APIv3 key only decrypts
/// payment notifications (said once, at info level). Without one nothing verifies answers.
fn no_certificates_message(public_key: bool) -> &'static str {
    if public_key {
        "this merchant has no WeChat Pay platform certificates: answers are verified with \
         the WeChat Pay public key (wechatpay.public_key_id), and the APIv3 key \
         (wechatpay.apiv3_key_file) only decrypts payment notifications"
    } else {
        "this merchant has no platform certificates: use public-key mode \
         (wechatpay.public_key_id and public_key_file, from the merchant platform's API安全 \
         page); keep apiv3_key_file only to decrypt payment notifications"
    }
}

/// Whether `e` is the merchant having no platform certificates while a public key verifies
/// the answers: nothing to warn about (told once by [`Certificates::download`]).
fn no_certificates_but_a_public_key(e: &PaymentError, verifier: &Verifier) -> bool {
    verifier.public_key_id().is_some()
        && matches!(e, PaymentError::Rejected { code, .. } if code == codes::RESOURCE_NOT_EXISTS)
}

/// Drop the certificates that have expired (the local clock), logging which; how many.
fn purge_expired(verifier: &Verifier) -> usize {
    let expired = verifier.purge_expired(clock::now_ms() / 1000);
    if !expired.is_empty() {
        info!(serials = ?expired, "expired WeChat Pay platform certificates dropped");
    }
    expired.len()
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
    fn no_certificates_with_a_public_key_says_what_the_apiv3_key_is_for() {
        let told = no_certificates_message(true);
        assert!(
            told.contains("public key") && told.contains("only decrypts payment notifications"),
            "{told}"
        );
        assert!(!told.contains("instead of"), "{told}");
        let advice = no_certificates_message(false);
        assert!(advice.contains("use public-key mode"), "{advice}");
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
