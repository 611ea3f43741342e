//! `GET /v3/certificates`: the platform certificates (two after a rotation, `rotation.rs`)
//! encrypted with AEAD_AES_256_GCM under the APIv3 key, and a certificate's validity read
//! from its DER (a minimal walk, so the simulator needs no X.509 library of wxprint's).

use std::time::SystemTime;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;

use super::ids::random_alnum;
use super::reply::Reply;
use super::rotation::Listed;
use super::time::{parse_rfc3339, rfc3339_beijing, unix};
use super::{Inner, Trust};

impl Inner {
    /// `GET /v3/certificates`.
    pub(super) fn certificates(&self) -> Reply {
        if self.config.trust == Trust::PublicKey {
            return Reply::error(
                404,
                "RESOURCE_NOT_EXISTS",
                "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥。可查看指引https://pay.weixin.qq.com/doc/v3/merchant/4012153196",
            );
        }
        let now = unix(SystemTime::now());
        let data: Vec<_> = self
            .listed_certificates()
            .iter()
            .map(|listed| self.certificate_entry(listed, now))
            .collect();
        Reply::json(200, &json!({ "data": data }))
    }

    /// One entry of the list: the certificate encrypted under the APIv3 key, with its serial
    /// and validity (`now` − 1 day to `now` + 5 years when it cannot be read).
    fn certificate_entry(&self, listed: &Listed<'_>, now: i64) -> serde_json::Value {
        let nonce = random_alnum(12);
        let aad = "certificate";
        let cipher = Aes256Gcm::new_from_slice(&self.config.apiv3_key)
            .expect("the APIv3 key must be 32 bytes");
        let nonce_array = Nonce::<Aes256Gcm>::try_from(nonce.as_bytes()).expect("12-byte nonce");
        let ciphertext = cipher
            .encrypt(
                &nonce_array,
                Payload {
                    msg: listed.pem.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-256-GCM encryption");
        let (not_before, not_after) = listed
            .validity
            .unwrap_or((now - 86_400, now + 5 * 365 * 86_400));
        json!({
            "serial_no": listed.serial,
            "effective_time": rfc3339_beijing(not_before),
            "expire_time": rfc3339_beijing(not_after),
            "encrypt_certificate": {
                "algorithm": "AEAD_AES_256_GCM",
                "nonce": nonce,
                "associated_data": aad,
                "ciphertext": BASE64.encode(ciphertext),
            }
        })
    }
}

/// Unix seconds of a certificate's `notBefore`/`notAfter` (a minimal DER walk).
pub(super) fn cert_validity(pem: &str) -> Option<(i64, i64)> {
    let b64: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .map(str::trim)
        .collect();
    let der = BASE64.decode(b64).ok()?;
    let (0x30, cert, _) = der_next(&der)? else {
        return None;
    };
    let (0x30, tbs, _) = der_next(cert)? else {
        return None;
    };
    let (tag, _, mut rest) = der_next(tbs)?;
    if tag == 0xA0 {
        rest = der_next(rest)?.2; // the version was first: skip the serial too
    }
    rest = der_next(rest)?.2; // signature algorithm
    rest = der_next(rest)?.2; // issuer
    let (0x30, validity, _) = der_next(rest)? else {
        return None;
    };
    let (tag1, t1, rest) = der_next(validity)?;
    let (tag2, t2, _) = der_next(rest)?;
    Some((asn1_time(tag1, t1)?, asn1_time(tag2, t2)?))
}

/// `(tag, content, rest)` of the next DER element.
fn der_next(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *buf.first()?;
    let first = *buf.get(1)?;
    let (len, head) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return None;
        }
        let len = buf
            .get(2..2 + n)?
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, 2 + n)
    };
    let end = head.checked_add(len)?;
    Some((tag, buf.get(head..end)?, buf.get(end..)?))
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) → Unix seconds.
fn asn1_time(tag: u8, content: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(content).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 if text.len() == 12 => {
            let yy: i64 = text[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        0x18 if text.len() == 14 => (text[..4].parse().ok()?, &text[4..]),
        _ => return None,
    };
    let iso = format!(
        "{year:04}-{}-{}T{}:{}:{}Z",
        &rest[0..2],
        &rest[2..4],
        &rest[4..6],
        &rest[6..8],
        &rest[8..10]
    );
    parse_rfc3339(&iso)
}
