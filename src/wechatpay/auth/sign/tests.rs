//! Known-answer tests of request signing: the official Go SDK's key and published signature,
//! and the documentation's Native/query messages (`docs/wechatpay.md` §9.5), plus the key
//! refusals with their guidance.

use super::*;
use crate::wechatpay::testkit::{
    GO_SDK_SIGNATURE_OF_SOURCE, MERCHANT_KEY, MERCHANT_PUB, MERCHANT_SERIAL, PLATFORM_CERT,
};

/// The private key of the official Go SDK's `utils/sign_test.go`
/// (`testAlgorithmPrivateKeyStr`, published with the label `TESTING KEY`, which its
/// `testingKey()` helper replaces by `PRIVATE KEY` exactly as done here).
const GO_SDK_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDZUJN33V+dSfvd
fL0Mu+39XrZNXFFMQSy1V15FpncHeV47SmV0TzTqZc7hHB0ddqAdDi8Z5k3TKqb7
6sOwYr5TcAfuR6PIPaleyE0/0KrljBum2Isa2Nyq7Dgc3ElBQ6YN4l/a+DpvKaz1
FSKmKrhLNskqokWVSlu4g8OlKlbPXQ9ibII14MZRQrrkTmHYHzfi7GXXM0thAKuR
0HNvyhTHBh4/lrYM3GaMvmWwkwvsMavnOex6+eioZHBOb1/EIZ/LzC6zuHArPpyW
3daGaZ1rtQB1vVzTyERAVVFsXXgBHvfFud3w3ShsJYk8JvMwK2RpJ5/gV0QSARcm
LDRUAlPzAgMBAAECggEBAMc7rDeUaXiWv6bMGbZ3BTXpg1FhdddnWUnYE8HfX/km
OFI7XtBHXcgYFpcjYz4D5787pcsk7ezPidAj58zqenuclmjKnUmT3pfbI5eCA2v4
C9HnbYDrmUPK1ZcADtka4D6ScDccpNYNa1g2TFHzkIrEa6H+q7S3O2fqxY/DRVtN
0JIXalBb8daaqL5QVzSmM2BMVnHy+YITJWIkP2a3pKs9C0W65JGDsnG0wVrHinHF
+cnhFZIbaPEI//DAFMc9NkrWOKVRTEgcCUxCFaHOZVNxDWZD7A2ZfJB2rK6eg//y
gEiFDR2h6mTaDowMB4YF2n2dsIO4/dCG8vPHI20jn4ECgYEA/ZGu6lEMlO0XZnam
AZGtiNgLcCfM/C2ZERZE7QTRPZH1WdK92Al9ndldsswFw4baJrJLCmghjF/iG4zi
hhBvLnOLksnZUfjdumxoHDWXo2QBWbI5QsWIE7AuTiWgWj1I7X4fCXSQf6i+M/y2
6TogQ7d0ANpZFyOkTNMn/tiJvLECgYEA22XqlamG/yfAGWery5KNH2DGlTIyd6xJ
WtJ9j3jU99lZ0bCQ5xhiBbU9ImxCi3zgTsoqLWgA/p00HhNFNoUcTl9ofc0G3zwT
D1y0ZzcnVKxGJdZ6ohW52V0hJStAigtjYAsUgjm7//FH7PiQDBDP1Wa6xSRkDQU/
aSbQxvEE8+MCgYEA3bb8krW7opyM0XL9RHH0oqsFlVO30Oit5lrqebS0oHl3Zsr2
ZGgoBlWBsEzk3UqUhTFwm/DhJLTSJ/TQPRkxnhQ5/mewNhS9C7yua7wQkzVmWN+V
YeUGTvDGDF6qDz12/vJAgSwDDRym8x4NcXD5tTw7mmNRcwIfL22SkysThIECgYAV
BgccoEoXWS/HP2/u6fQr9ZIR6eV8Ij5FPbZacTG3LlS1Cz5XZra95UgebFFUHHtC
EY1JHJY7z8SWvTH8r3Su7eWNaIAoFBGffzqqSVazfm6aYZsOvRY6BfqPHT3p/H1h
Tq6AbBffxrcltgvXnCTORjHPglU0CjSxVs7awW3AEQKBgB5WtaC8VLROM7rkfVIq
+RXqE5vtJfa3e3N7W3RqxKp4zHFAPfr82FK5CX2bppEaxY7SEZVvVInKDc5gKdG/
jWNRBmvvftZhY59PILHO2X5vO4FXh7suEjy6VIh0gsnK36mmRboYIBGsNuDHjXLe
BDa+8mDLkWu5nHEhOxy2JJZl
-----END PRIVATE KEY-----
";

/// The official documentation's example timestamp and nonce.
const DOC_TS: i64 = 1554208460;
const DOC_NONCE: &str = "593BEC0C930BF1AFEB40B4A08C8FB242";
const DOC_NATIVE_BODY: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"}}"#;
const DOC_QUERY_PATH: &str =
    "/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109";
/// `docs/wechatpay.md` §9.5: POST native message signed with the Go SDK key (openssl and
/// Python agree).
const NATIVE_SIGNATURE: &str = "G7ADhrfaKVrrQb5dmPK/GTVXfkFEt6PFUUPc8eMsS5EZHVboq4+aT69gTAltdkfnzn+7/smBTjLtQj2EFOaQchOB4Uce/CU7loYBnwTgNEg7iGx7E12t0q1DQR2rC+xIqRJL1zqGKGuqqOD8SAEJfiiZzFhxRwayhvhkLpIqNOYuXHD2uJnBomf+RjuvyRiBtBabkueDGY08skMF2byICGr8u9pYIvcAdoIpZGhe37U1KFl54/Amhxsvn47pyj3mcVzK0S9XaFomnmZ4O+FpxpyFIxqqATF+fUt064Kv+jLJnc12JTZ6gtg5uyDK4alysbyFZDLhJV/jibUYxpmF4g==";
/// `docs/wechatpay.md` §9.5: GET query message (empty body, ends in "\n\n") with the same key.
const QUERY_SIGNATURE: &str = "Mi6/vU9oV2sHqOtO5LZDQBvzCU+Hti+oFJOfyB0oyR0kxDgmeHmTqczM3gzb5jNY/uFYvtMBOke1DxYDEK6rSE3l7Y0Xp3WrgX7gZgRTHJAz/qFRze1qVxK1kWx1wcXs9jqWHy3BApmDEFO+2oBGfde4qmTG9oAMYmJZ3QTWVjNOKTaJ3lH5HbAdX+gFAO1PIOUmL8HnMlLWVNyW7BJzFFYiBvJmsSp5lgdW0Jw76oMZ0LCiPqe5FlzovlZQXx4uup7PMpGcUVzFQ69APJeBVQqAMuQJDiCbl5/XCi3eteFKVj0ZpQrcpJa+kynM0Z8TE/CwPMVR0c5b2xN1s7ofUQ==";

fn go_signer() -> MerchantSigner {
    MerchantSigner::from_pkcs8_pem(
        "1230000109",
        "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        GO_SDK_KEY,
    )
    .expect("Go SDK test key loads")
}

#[test]
fn go_sdk_known_answer_signature_of_source() {
    assert_eq!(
        go_signer().sign(b"source").unwrap(),
        GO_SDK_SIGNATURE_OF_SOURCE
    );
}

/// The documentation's Native order POST and order query GET messages.
fn doc_messages() -> (String, String) {
    let post = request_message(
        "POST",
        "/v3/pay/transactions/native",
        DOC_TS,
        DOC_NONCE,
        DOC_NATIVE_BODY,
    );
    let get = request_message("GET", DOC_QUERY_PATH, DOC_TS, DOC_NONCE, "");
    (post, get)
}

#[test]
fn request_message_framing() {
    let (post, get) = doc_messages();
    assert!(post.starts_with(
        "POST\n/v3/pay/transactions/native\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{"
    ));
    assert!(post.ends_with("}\n"));
    assert_eq!(
        post.len(),
        323,
        "docs/wechatpay.md §9.5 gives 323 UTF-8 bytes"
    );

    assert_eq!(
        get,
        "GET\n/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109\n\
         1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
    );
    assert_eq!(get.len(), 129);
}

#[test]
fn derived_vectors_through_request_message_and_sign() {
    let signer = go_signer();
    let (post, get) = doc_messages();
    assert_eq!(signer.sign(post.as_bytes()).unwrap(), NATIVE_SIGNATURE);
    assert_eq!(signer.sign(get.as_bytes()).unwrap(), QUERY_SIGNATURE);
}

#[test]
fn derived_vectors_through_authorization() {
    let signer = go_signer();
    assert_eq!(
        signer
            .authorization(
                "POST",
                "/v3/pay/transactions/native",
                DOC_TS,
                DOC_NONCE,
                DOC_NATIVE_BODY
            )
            .unwrap(),
        format!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"1230000109\",nonce_str=\"{DOC_NONCE}\",\
             timestamp=\"1554208460\",serial_no=\"5157F09EFDC096DE15EBE81A47057A7232F1B8E1\",\
             signature=\"{NATIVE_SIGNATURE}\""
        )
    );
    assert_eq!(
        signer
            .authorization("GET", DOC_QUERY_PATH, DOC_TS, DOC_NONCE, "")
            .unwrap(),
        format!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"1230000109\",nonce_str=\"{DOC_NONCE}\",\
             timestamp=\"1554208460\",serial_no=\"5157F09EFDC096DE15EBE81A47057A7232F1B8E1\",\
             signature=\"{QUERY_SIGNATURE}\""
        )
    );
}

#[test]
fn nonce_shape_and_freshness() {
    let a = new_nonce();
    let b = new_nonce();
    assert_eq!(a.len(), NONCE_LEN);
    assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
    assert_ne!(a, b);
}

#[test]
fn fixture_key_loads_and_debug_hides_it() {
    let signer =
        MerchantSigner::from_pkcs8_pem("1230000109", &MERCHANT_SERIAL.to_lowercase(), MERCHANT_KEY)
            .expect("fixture key loads");
    assert_eq!(signer.mchid(), "1230000109");
    assert_eq!(
        signer.serial_no(),
        MERCHANT_SERIAL,
        "serial is normalised to upper case"
    );
    assert_eq!(signer.key_bits(), 2048);
    let debug = format!("{signer:?}");
    assert!(debug.contains("2048-bit"), "{debug}");
    assert!(
        !debug.contains("MII") && !debug.contains("BoxedUint") && debug.len() < 200,
        "{debug}"
    );
}

#[test]
fn pkcs1_key_is_accepted_and_signs_identically() {
    // The same Go SDK key re-encoded as PKCS#1 ("BEGIN RSA PRIVATE KEY").
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    let pkcs1_pem = rsa::PrivateKey::from_pkcs8_pem(GO_SDK_KEY)
        .expect("the Go SDK key")
        .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
        .expect("re-encode");
    assert!(pkcs1_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let pkcs1 =
        MerchantSigner::from_pkcs8_pem("1230000109", "01", &pkcs1_pem).expect("PKCS#1 accepted");
    assert_eq!(pkcs1.sign(b"source").unwrap(), GO_SDK_SIGNATURE_OF_SOURCE);
}

#[test]
fn bad_inputs_are_refused_with_guidance() {
    let pubkey = MERCHANT_PUB;
    let cert = PLATFORM_CERT;
    let err = MerchantSigner::from_pkcs8_pem("1230000109", MERCHANT_SERIAL, pubkey).unwrap_err();
    assert!(
        matches!(err, SignError::NotAPrivateKey(ref l) if l == "PUBLIC KEY"),
        "{err}"
    );
    let err = MerchantSigner::from_pkcs8_pem("1230000109", MERCHANT_SERIAL, cert).unwrap_err();
    assert!(err.to_string().contains("apiclient_cert.pem"), "{err}");
    let err =
        MerchantSigner::from_pkcs8_pem("1230000109", MERCHANT_SERIAL, "not a key").unwrap_err();
    assert!(matches!(err, SignError::NotPem), "{err}");
    let encrypted =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
    let err = MerchantSigner::from_pkcs8_pem("1230000109", MERCHANT_SERIAL, encrypted).unwrap_err();
    assert!(matches!(err, SignError::EncryptedKey), "{err}");
    let garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    let err = MerchantSigner::from_pkcs8_pem("1230000109", MERCHANT_SERIAL, garbage).unwrap_err();
    assert!(matches!(err, SignError::InvalidKey(_)), "{err}");
    assert!(
        err.to_string().contains("openssl pkcs8 -topk8 -nocrypt"),
        "{err}"
    );
    let err = MerchantSigner::from_pkcs8_pem("", MERCHANT_SERIAL, MERCHANT_KEY).unwrap_err();
    assert!(matches!(err, SignError::BadMchid(_)), "{err}");
    let err =
        MerchantSigner::from_pkcs8_pem("123\",x=\"", MERCHANT_SERIAL, MERCHANT_KEY).unwrap_err();
    assert!(matches!(err, SignError::BadMchid(_)), "{err}");
    let err =
        MerchantSigner::from_pkcs8_pem("1230000109", "PUB_KEY_ID_01", MERCHANT_KEY).unwrap_err();
    assert!(matches!(err, SignError::BadSerial(_)), "{err}");
}

#[test]
fn signer_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<MerchantSigner>();
}
