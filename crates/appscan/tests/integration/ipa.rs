//! IPAs built on the fly: Info.plist (XML and binary), entitlements in the
//! Mach-O code signature, a `.entitlements` file, a framework, strings.

use appscan::{scan_bytes, MatchMethod, ScanOptions};

use crate::support::{macho, make_zip};

const INFO_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>CFBundleIdentifier</key><string>com.example.Demo</string>
  <key>CFBundleName</key><string>Demo</string>
  <key>CFBundleShortVersionString</key><string>2.3.1</string>
  <key>CFBundleVersion</key><string>231</string>
  <key>CFBundleExecutable</key><string>Demo</string>
  <key>MinimumOSVersion</key><string>15.0</string>
  <key>NSCameraUsageDescription</key><string>Scan codes</string>
  <key>NSLocationWhenInUseUsageDescription</key><string>Find stores</string>
  <key>NSContactsUsageDescription</key><string>Invite friends</string>
  <key>NSUserTrackingUsageDescription</key><string>Ads</string>
  <key>NSAppTransportSecurity</key><dict>
    <key>NSAllowsArbitraryLoads</key><true/>
    <key>NSExceptionDomains</key><dict>
      <key>legacy.example.com</key><dict><key>NSExceptionAllowsInsecureHTTPLoads</key><true/></dict>
    </dict>
  </dict>
  <key>CFBundleURLTypes</key><array><dict><key>CFBundleURLSchemes</key><array><string>demo</string><string>fb123</string></array></dict></array>
  <key>LSApplicationQueriesSchemes</key><array><string>whatsapp</string><string>tiktok</string></array>
</dict></plist>"#;

const ENTITLEMENTS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
  <key>application-identifier</key><string>ABCDE12345.com.example.Demo</string>
  <key>get-task-allow</key><true/>
  <key>com.apple.developer.networking.networkextension</key><array><string>packet-tunnel-provider</string></array>
</dict></plist>"#;

fn build_ipa(binary_plist: bool) -> Vec<u8> {
    let info: Vec<u8> = if binary_plist {
        let v = appscan_plist_from_xml(INFO_XML.as_bytes());
        let mut out = Vec::new();
        v.to_writer_binary(&mut out).unwrap();
        assert!(out.starts_with(b"bplist00"));
        out
    } else {
        INFO_XML.as_bytes().to_vec()
    };
    let exe = macho(
        &[
            "https://api.demo-backend.io/v2/login",
            "http://insecure.example.org/ping",
            "advertisingIdentifier",
            "52.1.2.3",
        ],
        &["FBSDKAppEvents", "DemoViewController"],
        Some(ENTITLEMENTS.as_bytes()),
    );
    let fw = macho(&["https://t.appsflyer.com/api"], &["AppsFlyerLib"], None);
    make_zip(&[
        ("Payload/Demo.app/Info.plist", &info, true),
        ("Payload/Demo.app/Demo", &exe, true),
        ("Payload/Demo.app/Frameworks/AppsFlyerLib.framework/AppsFlyerLib", &fw, true),
        ("Payload/Demo.app/Frameworks/AppsFlyerLib.framework/Info.plist", INFO_XML.as_bytes(), true),
        ("Payload/Demo.app/Demo.entitlements", b"<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>aps-environment</key><string>development</string></dict></plist>", true),
    ])
}

fn appscan_plist_from_xml(xml: &[u8]) -> plist::Value {
    appscan::ios::parse_plist(xml, "fixture").unwrap()
}

#[test]
fn ipa_with_xml_and_binary_info_plist() {
    for binary in [false, true] {
        let ipa = build_ipa(binary);
        let r = scan_bytes(&ipa, Some("Demo.ipa"), &ScanOptions::default()).unwrap();
        assert_eq!(r.input.kind, appscan::PackageKind::Ipa);
        let i = r.ios.as_ref().unwrap();
        assert_eq!(i.bundle_id.as_deref(), Some("com.example.Demo"));
        assert_eq!(i.short_version.as_deref(), Some("2.3.1"));
        assert_eq!(i.build_version.as_deref(), Some("231"));
        assert_eq!(i.usage_descriptions.len(), 4);
        assert_eq!(i.usage_descriptions["NSCameraUsageDescription"], "Scan codes");
        assert_eq!(
            i.ats_exceptions,
            vec![
                "NSAllowsArbitraryLoads=true".to_string(),
                "legacy.example.com: NSExceptionAllowsInsecureHTTPLoads=true".to_string(),
            ]
        );
        assert_eq!(i.url_schemes, vec!["demo", "fb123"]);
        assert_eq!(i.queried_schemes, vec!["tiktok", "whatsapp"]);
        assert_eq!(i.entitlements["get-task-allow"], "true");
        assert_eq!(i.entitlements["aps-environment"], "development");
        assert_eq!(i.entitlement_sources.len(), 2, "{:?}", i.entitlement_sources);
        assert_eq!(i.frameworks, vec!["AppsFlyerLib"]);
        assert_eq!(i.binaries.len(), 2);
        assert_eq!(i.binaries[0].architectures, vec!["arm64"]);
        assert!(i.binaries[0].code_signature);
        assert!(i.sensitive_symbols.contains(&"advertisingIdentifier".to_string()));
        assert!(r.network.domains.contains(&"api.demo-backend.io".to_string()));
        assert!(r.network.domains.contains(&"t.appsflyer.com".to_string()));
        assert!(r
            .network
            .cleartext_urls
            .contains(&"http://insecure.example.org/ping".to_string()));
        assert!(r.network.ips.contains(&"52.1.2.3".to_string()));
        let af = r.trackers.iter().find(|t| t.name == "AppsFlyer").expect("AppsFlyer");
        assert!(af.methods.contains(&MatchMethod::Framework));
        assert!(af.methods.contains(&MatchMethod::Domain));
        assert!(r.trackers.iter().any(|t| t.name == "Facebook Analytics"));
        let ids: Vec<&str> = r.findings.iter().map(|f| f.id.as_str()).collect();
        for want in [
            "ios.get_task_allow",
            "ios.ats_exceptions",
            "ios.advertising_identifier",
            "ios.powerful_entitlements",
            "ios.privacy_usage_descriptions",
            "trackers.detected",
        ] {
            assert!(ids.contains(&want), "missing {want} in {ids:?}");
        }
        let f5 = r.factors.iter().find(|f| f.factor == "F5").unwrap();
        assert_eq!(f5.score, 4);
        assert!(f5.source.starts_with("static analysis of "));
    }
}

#[test]
fn ipa_without_info_plist_is_an_error() {
    let ipa = make_zip(&[("Payload/Demo.app/Demo", b"x", false)]);
    let err = scan_bytes(&ipa, None, &ScanOptions::default()).unwrap_err();
    assert!(matches!(err, appscan::ScanError::UnknownPackage(_)), "{err}");
}

#[test]
fn ipa_with_garbage_binary_reports_a_warning() {
    let ipa = make_zip(&[
        ("Payload/Demo.app/Info.plist", INFO_XML.as_bytes(), true),
        ("Payload/Demo.app/Demo", b"\xcf\xfa\xed\xfe garbage", true),
    ]);
    let r = scan_bytes(&ipa, None, &ScanOptions::default()).unwrap();
    let i = r.ios.unwrap();
    assert!(i.binaries.is_empty());
    assert_eq!(i.warnings.len(), 1, "{:?}", i.warnings);
    assert!(i.warnings[0].contains("Payload/Demo.app/Demo"));
}
