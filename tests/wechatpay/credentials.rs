//! The merchant's credentials: the online probe, key files that must be private, and
//! certificate mode recovering from failed certificate downloads.

use crate::wechatpay_sim::{
    Endpoint, Fault, Kind, SimConfig, Simulator, Trust, default_fixture_dir,
};
use crate::{checkout_printed, settings, start};
use wxprint::config::Settings;
use wxprint::wechatpay::WechatPay;

/// `check-config --online`'s probe proves the credentials; in public-key-only mode a
/// certificate download is refused with advice.
#[tokio::test]
async fn online_probe() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let s = settings(dir.path(), &sim, Trust::PublicKey);
    let backend = WechatPay::from_settings(&s.wechatpay).unwrap();
    let report = backend.probe().await.unwrap();
    assert!(report.request_id.is_some());

    let s = settings(dir.path(), &sim, Trust::Certificate);
    let backend = WechatPay::from_settings(&s.wechatpay).unwrap();
    let e = backend.probe().await.unwrap_err().to_string();
    assert!(e.contains("public-key mode"), "{e}");
}

/// The probe asks the configured region and mode: each kind's own query path and merchant
/// fields (the simulator refuses another kind's path, so a wrong probe fails here).
#[tokio::test]
async fn online_probe_of_every_merchant_kind() {
    for kind in Kind::ALL {
        let dir = tempfile::tempdir().unwrap();
        let sim =
            Simulator::start(SimConfig::from_fixtures(Trust::PublicKey).with_kind(kind)).await;
        let s = settings(dir.path(), &sim, Trust::PublicKey);
        let backend = WechatPay::from_settings(&s.wechatpay).unwrap();
        let report = backend
            .probe()
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert!(report.request_id.is_some(), "{kind:?}");
        let queries = sim.requests_to(Endpoint::Query);
        assert_eq!(queries.len(), 1, "{kind:?}: one query");
        let expected = if kind.has_sub_merchant() {
            "sub_mchid="
        } else {
            "mchid="
        };
        assert!(
            queries[0].path.contains(expected),
            "{kind:?}: {}",
            queries[0].path
        );
    }
}

/// Key files readable by others are refused, naming the file and the fix.
#[test]
fn key_files_must_be_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut s = Settings::sandbox_defaults();
    let key = dir.path().join("apiclient_key.pem");
    std::fs::copy(default_fixture_dir().join("merchant_key.pem"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    s.wechatpay.private_key_file = key.clone();
    s.wechatpay.mchid = "1230000109".into();
    let e = WechatPay::from_settings(&s.wechatpay)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("chmod 600") && e.contains(key.to_str().unwrap()),
        "{e}"
    );
}

/// Certificate mode: a failed certificate download is retried, and an answer signed with
/// a serial we do not know yet makes us download again.
#[tokio::test]
async fn certificate_mode_recovers_from_download_faults() {
    let setup = start(Trust::Certificate).await;
    setup
        .sim
        .inject(Endpoint::Certificates, Fault::Status500, 1);
    let mut pos = setup.daemon.connect().await;
    checkout_printed(&setup, &mut pos, "T2026112690").await;
    assert!(setup.sim.pay("T2026112690"));
    pos.expect("paid").await;
    let downloads = setup.sim.requests_to(Endpoint::Certificates);
    assert!(downloads.len() >= 2, "retried: {}", downloads.len());
    setup.daemon.shutdown().await;
}
