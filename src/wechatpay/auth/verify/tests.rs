//! Tests of response verification: the Go SDK's certificate and published signature, the two
//! trust modes, the clock window, tampering, `WECHATPAY/SIGNTEST/` probes, header reading and
//! the guidance of key configuration errors.

use super::*;
use crate::wechatpay::auth::keys::parse_certificate_pem;
use crate::wechatpay::testkit::*;

/// `testWechatPayVerifierPlatformCertificate` of the official Go SDK
/// (`core/auth/verifiers/sha256withrsa_verifier_test.go`), serial F5765756002FDD77.
const GO_SDK_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIDVzCCAj+gAwIBAgIJAPV2V1YAL913MA0GCSqGSIb3DQEBCwUAMEIxCzAJBgNV
BAYTAlhYMRUwEwYDVQQHDAxEZWZhdWx0IENpdHkxHDAaBgNVBAoME0RlZmF1bHQg
Q29tcGFueSBMdGQwHhcNMjEwNDI3MDg0MDMyWhcNMzEwNDI1MDg0MDMyWjBCMQsw
CQYDVQQGEwJYWDEVMBMGA1UEBwwMRGVmYXVsdCBDaXR5MRwwGgYDVQQKDBNEZWZh
dWx0IENvbXBhbnkgTHRkMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA
2VCTd91fnUn73Xy9DLvt/V62TVxRTEEstVdeRaZ3B3leO0pldE806mXO4RwdHXag
HQ4vGeZN0yqm++rDsGK+U3AH7kejyD2pXshNP9Cq5YwbptiLGtjcquw4HNxJQUOm
DeJf2vg6byms9RUipiq4SzbJKqJFlUpbuIPDpSpWz10PYmyCNeDGUUK65E5h2B83
4uxl1zNLYQCrkdBzb8oUxwYeP5a2DNxmjL5lsJML7DGr5znsevnoqGRwTm9fxCGf
y8wus7hwKz6clt3Whmmda7UAdb1c08hEQFVRbF14AR73xbnd8N0obCWJPCbzMCtk
aSef4FdEEgEXJiw0VAJT8wIDAQABo1AwTjAdBgNVHQ4EFgQUT1c7nd/SUO76HSoZ
umNUJv1R5PwwHwYDVR0jBBgwFoAUT1c7nd/SUO76HSoZumNUJv1R5PwwDAYDVR0T
BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEAM+tslqBxYwqL9fdvGG6hfy69sjfX
UhBtBLWYugKKQCOWWLeq5dDWm3i5Cx2Rgiy9uc7RfmJNxQfIKlcoCNP85BjDoG1B
YnVc6znlcrT9uHgseha3987WwZsFAQbcy8TLUYHzVB8gmDgq8O08xdIe0eczatI8
t3Rg8WXO6Gs66JJ4JR+rD01o3FiSOQCRWhn19NSyDydsgPlOR2t9B9L+MkJwlsMG
Krn85TnwL3qcInzRnU8X86faXXJrI0IJi44tECKw8ftngCl6vyNwNNKPDwdkcuuV
8y3iBixO5IuKxEKEp2wGPV/4W1AXO73Z3Gb7z/1oxdgeO0hVqz1hBasTCQ==
-----END CERTIFICATE-----
";
#[test]
fn go_sdk_certificate_verifies_published_signature() {
    let cert = parse_certificate_pem(GO_SDK_CERT).expect("Go SDK certificate parses");
    assert_eq!(cert.serial, "F5765756002FDD77");
    // notAfter 2031-04-25 08:40:32 UTC.
    assert_eq!(cert.not_after_unix, 1_934_872_832);
    verify_signature(&cert.public_key, b"source", GO_SDK_SIGNATURE_OF_SOURCE)
        .expect("published signature verifies");
    assert!(matches!(
        verify_signature(
            &cert.public_key,
            b"wrong source",
            GO_SDK_SIGNATURE_OF_SOURCE
        ),
        Err(VerifyError::BadSignature)
    ));
}

#[test]
fn response_message_framing() {
    assert_eq!(
        response_message("1554208460", "NONCE1234567890", b"BODY"),
        b"1554208460\nNONCE1234567890\nBODY\n"
    );
    assert_eq!(
        response_message("1554208460", "NONCE1234567890", b""),
        b"1554208460\nNONCE1234567890\n\n"
    );
}

#[test]
fn public_key_mode() {
    let verifier = public_key_verifier();
    verifier
        .verify(&signed(PUB_KEY_ID, NOW, BODY), BODY, NOW)
        .expect("verifies");
    assert!(verifier.knows_serial(PUB_KEY_ID));
    assert!(!verifier.knows_serial(CERT_SERIAL));
    assert_eq!(verifier.serials(), vec![PUB_KEY_ID.to_owned()]);
    assert!(matches!(
        verifier.verify(&signed(CERT_SERIAL, NOW, BODY), BODY, NOW),
        Err(VerifyError::UnknownSerial(ref s)) if s == CERT_SERIAL
    ));
}

#[test]
fn certificate_mode() {
    let verifier = certificate_verifier();
    verifier
        .verify(&signed(CERT_SERIAL, NOW, BODY), BODY, NOW)
        .expect("verifies");
    // Serials are compared case-insensitively.
    verifier
        .verify(&signed(&CERT_SERIAL.to_lowercase(), NOW, BODY), BODY, NOW)
        .expect("lower-case serial verifies");
    assert!(verifier.knows_serial(CERT_SERIAL));
    assert!(matches!(
        verifier.verify(&signed(PUB_KEY_ID, NOW, BODY), BODY, NOW),
        Err(VerifyError::UnknownSerial(_))
    ));
    // Replacing the set at runtime drops the old certificate.
    verifier.set_certificates(Vec::new());
    assert!(!verifier.knows_serial(CERT_SERIAL));
    assert!(matches!(
        verifier.verify(&signed(CERT_SERIAL, NOW, BODY), BODY, NOW),
        Err(VerifyError::UnknownSerial(_))
    ));
}

#[test]
fn both_modes_accept_either_serial() {
    let verifier = public_key_verifier();
    verifier.set_certificates(vec![parse_certificate_pem(PLATFORM_CERT).unwrap()]);
    verifier
        .verify(&signed(PUB_KEY_ID, NOW, BODY), BODY, NOW)
        .unwrap();
    verifier
        .verify(&signed(CERT_SERIAL, NOW, BODY), BODY, NOW)
        .unwrap();
    assert_eq!(
        verifier.serials(),
        vec![PUB_KEY_ID.to_owned(), CERT_SERIAL.to_owned()]
    );
    assert!(matches!(
        verifier.verify(&signed("0123ABCD", NOW, BODY), BODY, NOW),
        Err(VerifyError::UnknownSerial(_))
    ));
}

#[test]
fn wrong_key_for_serial_fails() {
    // The merchant's public key configured under the platform key's ID.
    let verifier = Verifier::new()
        .with_public_key(PUB_KEY_ID, MERCHANT_PUB)
        .unwrap();
    assert!(matches!(
        verifier.verify(&signed(PUB_KEY_ID, NOW, BODY), BODY, NOW),
        Err(VerifyError::BadSignature)
    ));
}

#[test]
fn clock_window_is_299_seconds_either_way() {
    let verifier = public_key_verifier();
    for skew in [-299, 0, 299] {
        verifier
            .verify(&signed(PUB_KEY_ID, NOW + skew, BODY), BODY, NOW)
            .unwrap_or_else(|e| panic!("skew {skew}: {e}"));
    }
    for skew in [-300, 300, -86_400] {
        let err = verifier
            .verify(&signed(PUB_KEY_ID, NOW + skew, BODY), BODY, NOW)
            .unwrap_err();
        assert!(
            matches!(err, VerifyError::Stale { timestamp, now } if timestamp == NOW + skew && now == NOW),
            "skew {skew}: {err}"
        );
        assert!(err.to_string().contains("clock may be wrong"), "{err}");
    }
}

#[test]
fn tampered_body_fails() {
    let verifier = public_key_verifier();
    let sig = signed(PUB_KEY_ID, NOW, BODY);
    let tampered = br#"{"code_url":"weixin://wxpay/bizpayurl/up?pr=EVIL000&groupid=00"}"#;
    assert!(matches!(
        verifier.verify(&sig, tampered, NOW),
        Err(VerifyError::BadSignature)
    ));
    // A trailing newline added by a proxy breaks the signature too.
    let mut extended = BODY.to_vec();
    extended.push(b'\n');
    assert!(matches!(
        verifier.verify(&sig, &extended, NOW),
        Err(VerifyError::BadSignature)
    ));
    // So does a changed nonce or timestamp.
    let mut other_nonce = sig.clone();
    other_nonce.nonce.push('X');
    assert!(matches!(
        verifier.verify(&other_nonce, BODY, NOW),
        Err(VerifyError::BadSignature)
    ));
    let mut other_ts = sig.clone();
    other_ts.timestamp = (NOW + 1).to_string();
    assert!(matches!(
        verifier.verify(&other_ts, BODY, NOW),
        Err(VerifyError::BadSignature)
    ));
    let mut garbage = sig;
    garbage.signature = "not base64!".into();
    assert!(matches!(
        verifier.verify(&garbage, BODY, NOW),
        Err(VerifyError::BadSignature)
    ));
}

#[test]
fn signtest_probe_is_recognised() {
    let verifier = public_key_verifier();
    let mut sig = signed(PUB_KEY_ID, NOW, BODY);
    sig.signature = format!("{SIGNTEST_PREFIX}{}", &sig.signature[..40]);
    let err = verifier.verify(&sig, BODY, NOW).unwrap_err();
    assert!(matches!(err, VerifyError::SignTest), "{err}");
    // Certificate mode too.
    let verifier = certificate_verifier();
    let mut sig = signed(CERT_SERIAL, NOW, BODY);
    sig.signature = format!("{SIGNTEST_PREFIX}abc");
    assert!(matches!(
        verifier.verify(&sig, BODY, NOW),
        Err(VerifyError::SignTest)
    ));
}

#[test]
fn signature_type_is_checked_first() {
    let verifier = public_key_verifier();
    let mut sig = signed(PUB_KEY_ID, NOW, BODY);
    sig.signature_type = None;
    verifier
        .verify(&sig, BODY, NOW)
        .expect("absent type means RSA");
    // Stale too, but the type is reported: it is checked first.
    let mut sm2 = signed(PUB_KEY_ID, NOW - 1000, BODY);
    sm2.signature_type = Some("WECHATPAY2-SM2-WITH-SM3".into());
    assert!(matches!(
        verifier.verify(&sm2, BODY, NOW),
        Err(VerifyError::BadSignatureType(ref t)) if t == "WECHATPAY2-SM2-WITH-SM3"
    ));
}

#[test]
fn empty_body_204_framing() {
    let verifier = public_key_verifier();
    let timestamp = NOW.to_string();
    let nonce = "n0nce";
    let good = platform_signer()
        .sign(format!("{timestamp}\n{nonce}\n\n").as_bytes())
        .unwrap();
    let without_blank_line = platform_signer()
        .sign(format!("{timestamp}\n{nonce}\n").as_bytes())
        .unwrap();
    let mut sig = ResponseSignature {
        timestamp,
        nonce: nonce.into(),
        signature: good,
        serial: PUB_KEY_ID.into(),
        signature_type: None,
    };
    verifier.verify(&sig, b"", NOW).expect("204 verifies");
    sig.signature = without_blank_line;
    assert!(matches!(
        verifier.verify(&sig, b"", NOW),
        Err(VerifyError::BadSignature)
    ));
}

#[test]
fn malformed_headers() {
    let verifier = public_key_verifier();
    for bad in [
        "",
        "-1",
        "+1800000000",
        "1800000000.0",
        " 1800000000",
        "18e8",
        "99999999999999999999",
    ] {
        let mut sig = signed(PUB_KEY_ID, NOW, BODY);
        sig.timestamp = bad.into();
        let err = verifier.verify(&sig, BODY, NOW).unwrap_err();
        assert!(
            matches!(
                err,
                VerifyError::BadTimestamp(_) | VerifyError::MissingHeader(_)
            ),
            "{bad:?}: {err}"
        );
    }
    let mut sig = signed(PUB_KEY_ID, NOW, BODY);
    sig.nonce = "a\nb".into();
    assert!(matches!(
        verifier.verify(&sig, BODY, NOW),
        Err(VerifyError::BadNonce(_))
    ));
    let mut sig = signed(PUB_KEY_ID, NOW, BODY);
    sig.serial.clear();
    assert!(matches!(
        verifier.verify(&sig, BODY, NOW),
        Err(VerifyError::MissingHeader("Wechatpay-Serial"))
    ));
}

#[test]
fn headers_are_collected() {
    let headers = [
        ("Wechatpay-Timestamp", "1800000000"),
        ("Wechatpay-Nonce", "abc"),
        ("Wechatpay-Signature", "c2ln"),
        ("Wechatpay-Serial", PUB_KEY_ID),
    ];
    let lookup = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    let sig = ResponseSignature::from_headers(lookup).unwrap();
    assert_eq!(sig.timestamp, "1800000000");
    assert_eq!(sig.serial, PUB_KEY_ID);
    assert_eq!(sig.signature_type, None);
    let missing = |name: &str| {
        if name == "Wechatpay-Nonce" {
            None
        } else {
            lookup(name)
        }
    };
    assert!(matches!(
        ResponseSignature::from_headers(missing),
        Err(VerifyError::MissingHeader("Wechatpay-Nonce"))
    ));
}

#[test]
fn expired_certificate_is_refused() {
    let verifier = Verifier::new();
    let mut cert = parse_certificate_pem(PLATFORM_CERT).unwrap();
    cert.not_after_unix = NOW - 1;
    verifier.set_certificates(vec![cert]);
    assert!(matches!(
        verifier.verify(&signed(CERT_SERIAL, NOW, BODY), BODY, NOW),
        Err(VerifyError::CertificateExpired { .. })
    ));
}

#[test]
fn expired_certificates_are_purged_and_then_unknown() {
    let verifier = Verifier::new();
    let mut expired = parse_certificate_pem(PLATFORM_CERT).unwrap();
    expired.not_after_unix = NOW - 1;
    let mut current = parse_certificate_pem(PLATFORM_CERT).unwrap();
    current.serial = "5E8A1C0FFEE0D15EA5E0000000000002".into();
    current.not_after_unix = NOW;
    verifier.set_certificates(vec![expired, current]);
    assert_eq!(verifier.purge_expired(NOW), vec![CERT_SERIAL.to_owned()]);
    assert!(!verifier.knows_serial(CERT_SERIAL), "purged");
    assert!(verifier.knows_serial("5E8A1C0FFEE0D15EA5E0000000000002"));
    assert!(matches!(
        verifier.verify(&signed(CERT_SERIAL, NOW, BODY), BODY, NOW),
        Err(VerifyError::UnknownSerial(_))
    ));
    assert!(
        verifier.purge_expired(NOW).is_empty(),
        "valid until its notAfter"
    );
    assert_eq!(verifier.purge_expired(NOW + 1).len(), 1);
    assert!(verifier.serials().is_empty());
}

#[test]
fn key_configuration_errors() {
    let err = Verifier::new()
        .with_public_key(CERT_SERIAL, PLATFORM_PUB)
        .unwrap_err();
    assert!(err.to_string().contains("PUB_KEY_ID_"), "{err}");
    let err = Verifier::new()
        .with_public_key(PUB_KEY_ID, PLATFORM_CERT)
        .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    let err = Verifier::new()
        .with_public_key(PUB_KEY_ID, PLATFORM_KEY)
        .unwrap_err();
    assert!(err.to_string().contains("private key"), "{err}");
    let err = Verifier::new()
        .with_public_key(PUB_KEY_ID, "junk")
        .unwrap_err();
    assert!(matches!(err, VerifyError::Key(_)), "{err}");
    let err = parse_certificate_pem(PLATFORM_PUB).unwrap_err();
    assert!(matches!(err, VerifyError::Certificate(_)), "{err}");
}

#[test]
fn verifier_is_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Verifier>();
    let verifier = std::sync::Arc::new(certificate_verifier());
    let sig = signed(CERT_SERIAL, NOW, BODY);
    std::thread::scope(|s| {
        let v = verifier.clone();
        s.spawn(move || v.set_certificates(vec![parse_certificate_pem(PLATFORM_CERT).unwrap()]));
        s.spawn(|| verifier.verify(&sig, BODY, NOW).unwrap());
    });
}
