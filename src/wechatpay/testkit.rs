//! Test fixtures shared by the unit tests of `wechatpay/`: the published vectors of the
//! official SDKs, the keys of `tests/fixtures/wechatpay/` (see its README), and a stand-in for
//! WeChat Pay's side that signs answers with the fixture platform key.
//!
//! Test-only (`#[cfg(test)]`); production code must not depend on it.

use super::auth::{AUTH_SCHEME, parse_certificate_pem};
use super::auth::{MerchantSigner, ResponseSignature, Verifier, response_message};

/// The Go SDK's published signature of `"source"` (`utils/sign_test.go`
/// `testAlgorithmExpectSignature`), made with its test private key; its certificate
/// (serial F5765756002FDD77) verifies it.
pub(crate) const GO_SDK_SIGNATURE_OF_SOURCE: &str = "BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg==";

/// Java SDK `AeadAesCipherTest` vector (a real 32-byte APIv3 key).
pub(crate) const JAVA_KEY: &[u8] = b"a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
pub(crate) const JAVA_NONCE: &str = "uluk4a9R25RW";
pub(crate) const JAVA_AAD: &str = "associatedData";
pub(crate) const JAVA_PLAINTEXT: &[u8] = b"message";
pub(crate) const JAVA_CIPHERTEXT: &str = "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=";

macro_rules! fixture {
    ($file:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/wechatpay/",
            $file
        ))
    };
}

pub(crate) const MERCHANT_KEY: &str = fixture!("merchant_key.pem");
pub(crate) const MERCHANT_SERIAL: &str = "7D3A1F0E5C2B4A6978E1D0C3B2A1F0E9D8C7B6A5";
pub(crate) const MERCHANT_PUB: &str = fixture!("merchant_pub.pem");
pub(crate) const PLATFORM_KEY: &str = fixture!("platform_key.pem");
pub(crate) const PLATFORM_PUB: &str = fixture!("platform_pub.pem");
pub(crate) const PLATFORM_CERT: &str = fixture!("platform_cert.pem");
pub(crate) const APIV3_KEY: &str = fixture!("apiv3_key.txt");
pub(crate) const PUB_KEY_ID: &str = "PUB_KEY_ID_0114232000000000000000000000000001";
pub(crate) const CERT_SERIAL: &str = "5E8A1C0FFEE0D15EA5E0000000000001";

pub(crate) const NOW: i64 = 1_800_000_000;
pub(crate) const BODY: &[u8] =
    br#"{"code_url":"weixin://wxpay/bizpayurl/up?pr=NwY5Mz9&groupid=00"}"#;

/// WeChat Pay's side: signs response messages with the fixture platform key.
pub(crate) fn platform_signer() -> MerchantSigner {
    MerchantSigner::from_pkcs8_pem("1", "01", PLATFORM_KEY).expect("fixture platform key")
}

/// The signature headers WeChat Pay would send with `body`, signed at `timestamp` by the
/// fixture platform key and naming `serial`.
pub(crate) fn signed(serial: &str, timestamp: i64, body: &[u8]) -> ResponseSignature {
    let timestamp = timestamp.to_string();
    let nonce = "fE2yG4hJ6kL8mN0pQ2rS4tU6vW8xY0zA".to_owned();
    let signature = platform_signer()
        .sign(&response_message(&timestamp, &nonce, body))
        .expect("fixture platform key signs");
    ResponseSignature {
        timestamp,
        nonce,
        signature,
        serial: serial.to_owned(),
        signature_type: Some(AUTH_SCHEME.to_owned()),
    }
}

pub(crate) fn public_key_verifier() -> Verifier {
    Verifier::new()
        .with_public_key(PUB_KEY_ID, PLATFORM_PUB)
        .expect("fixture public key")
}

pub(crate) fn certificate_verifier() -> Verifier {
    let verifier = Verifier::new();
    verifier.set_certificates(vec![
        parse_certificate_pem(PLATFORM_CERT).expect("fixture certificate"),
    ]);
    verifier
}
