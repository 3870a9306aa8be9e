//! Sensitive Android API references found in DEX method and type tables.
//!
//! A reference means the code *can* call the API (possibly in an unused
//! library path); it is evidence, not proof of behaviour.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use serde::Serialize;

use crate::android::dex::Dex;

/// What a sensitive API gives the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Capability {
    /// `DexClassLoader`, `InMemoryDexClassLoader`, `DexFile.loadDex`: loads code not reviewed by the store.
    DynamicCodeLoading,
    /// `PathClassLoader`: usually multidex/plugins; weaker signal.
    PathClassLoader,
    /// `System.load` of a path (native code from an arbitrary file).
    NativeLoadFromPath,
    /// `Runtime.exec`, `ProcessBuilder`: shell commands.
    RuntimeExec,
    /// `Class.forName`, `Method.invoke`: reflection (hides call targets).
    Reflection,
    /// `ClipboardManager.getPrimaryClip` & co.
    ClipboardRead,
    /// IMEI/MEID/IMSI/SIM serial/phone number.
    DeviceIdentifiers,
    /// `Settings.Secure.ANDROID_ID`.
    AndroidId,
    /// Wi-Fi/Bluetooth/NIC MAC address.
    MacAddress,
    /// Location APIs.
    Location,
    /// Contacts provider.
    Contacts,
    /// Installed-apps enumeration.
    InstalledApps,
    /// SMS send/read APIs.
    Sms,
    /// Microphone/camera capture APIs.
    AudioVideoCapture,
    /// Accessibility service implementation.
    AccessibilityService,
    /// Package installation (`PackageInstaller`, install intents).
    PackageInstall,
    /// TLS validation weakened (`AllowAllHostnameVerifier`, `SslErrorHandler.proceed`).
    WeakTls,
    /// WebView JavaScript bridge (`addJavascriptInterface`).
    WebViewJsBridge,
}

/// One sensitive API the code references.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ApiUse {
    /// What it gives.
    pub capability: Capability,
    /// The API, as `android.telephony.TelephonyManager.getDeviceId` (or a type name).
    pub api: String,
    /// DEX files referencing it, sorted.
    pub dex_files: Vec<String>,
}

type MethodTable = HashMap<(&'static str, &'static str), Capability>;

fn methods() -> &'static MethodTable {
    static T: OnceLock<MethodTable> = OnceLock::new();
    T.get_or_init(|| {
        use Capability::*;
        let rows: &[(&str, &[&str], Capability)] = &[
            ("Ldalvik/system/DexClassLoader;", &["<init>"], DynamicCodeLoading),
            (
                "Ldalvik/system/InMemoryDexClassLoader;",
                &["<init>"],
                DynamicCodeLoading,
            ),
            ("Ldalvik/system/DexFile;", &["loadDex", "<init>"], DynamicCodeLoading),
            ("Ldalvik/system/BaseDexClassLoader;", &["<init>"], DynamicCodeLoading),
            ("Ldalvik/system/PathClassLoader;", &["<init>"], PathClassLoader),
            ("Ljava/lang/System;", &["load"], NativeLoadFromPath),
            ("Ljava/lang/Runtime;", &["exec"], RuntimeExec),
            ("Ljava/lang/ProcessBuilder;", &["start"], RuntimeExec),
            ("Ljava/lang/Class;", &["forName"], Reflection),
            ("Ljava/lang/reflect/Method;", &["invoke"], Reflection),
            (
                "Landroid/content/ClipboardManager;",
                &[
                    "getPrimaryClip",
                    "getText",
                    "getPrimaryClipDescription",
                    "addPrimaryClipChangedListener",
                ],
                ClipboardRead,
            ),
            (
                "Landroid/telephony/TelephonyManager;",
                &[
                    "getDeviceId",
                    "getImei",
                    "getMeid",
                    "getSubscriberId",
                    "getSimSerialNumber",
                    "getLine1Number",
                ],
                DeviceIdentifiers,
            ),
            ("Landroid/provider/Settings$Secure;", &["getString"], AndroidId),
            ("Landroid/net/wifi/WifiInfo;", &["getMacAddress"], MacAddress),
            ("Ljava/net/NetworkInterface;", &["getHardwareAddress"], MacAddress),
            ("Landroid/bluetooth/BluetoothAdapter;", &["getAddress"], MacAddress),
            (
                "Landroid/location/LocationManager;",
                &[
                    "getLastKnownLocation",
                    "requestLocationUpdates",
                    "getCurrentLocation",
                    "requestSingleUpdate",
                ],
                Location,
            ),
            (
                "Lcom/google/android/gms/location/FusedLocationProviderClient;",
                &["getLastLocation", "requestLocationUpdates", "getCurrentLocation"],
                Location,
            ),
            (
                "Landroid/content/pm/PackageManager;",
                &["getInstalledPackages", "getInstalledApplications"],
                InstalledApps,
            ),
            (
                "Landroid/telephony/SmsManager;",
                &["sendTextMessage", "sendMultipartTextMessage"],
                Sms,
            ),
            (
                "Landroid/media/MediaRecorder;",
                &["setAudioSource", "setVideoSource"],
                AudioVideoCapture,
            ),
            ("Landroid/media/AudioRecord;", &["startRecording"], AudioVideoCapture),
            ("Landroid/hardware/Camera;", &["open"], AudioVideoCapture),
            (
                "Landroid/hardware/camera2/CameraManager;",
                &["openCamera"],
                AudioVideoCapture,
            ),
            (
                "Landroid/content/pm/PackageInstaller;",
                &["createSession"],
                PackageInstall,
            ),
            ("Landroid/webkit/SslErrorHandler;", &["proceed"], WeakTls),
            ("Landroid/webkit/WebView;", &["addJavascriptInterface"], WebViewJsBridge),
        ];
        let mut t = HashMap::new();
        for (class, names, cap) in rows {
            for n in *names {
                t.insert((*class, *n), *cap);
            }
        }
        t
    })
}

/// Types whose mere presence in the type table is the signal.
const TYPES: &[(&str, Capability)] = &[
    ("Landroid/provider/ContactsContract;", Capability::Contacts),
    ("Landroid/provider/ContactsContract$Contacts;", Capability::Contacts),
    (
        "Landroid/provider/ContactsContract$CommonDataKinds$Phone;",
        Capability::Contacts,
    ),
    (
        "Lorg/apache/http/conn/ssl/AllowAllHostnameVerifier;",
        Capability::WeakTls,
    ),
    (
        "Landroid/accessibilityservice/AccessibilityService;",
        Capability::AccessibilityService,
    ),
];

/// Accumulates API uses over the DEX files of a package.
#[derive(Debug, Default)]
pub struct ApiScanner {
    found: BTreeMap<(Capability, String), BTreeSet<String>>,
}

impl ApiScanner {
    /// Records the sensitive references of one DEX file.
    pub fn scan(&mut self, dex_name: &str, dex: &Dex) {
        let table = methods();
        let has_android_id = dex.strings.iter().any(|s| s == "android_id");
        for (class, name) in dex.method_ref_names() {
            if let Some(&cap) = table.get(&(class, name)) {
                if cap == Capability::AndroidId && !has_android_id {
                    continue;
                }
                let api = format!(
                    "{}.{}",
                    crate::android::dex::descriptor_to_dotted(class).unwrap_or_default(),
                    if cap == Capability::AndroidId {
                        "ANDROID_ID"
                    } else {
                        name
                    }
                );
                self.found.entry((cap, api)).or_default().insert(dex_name.to_string());
            }
        }
        for t in &dex.types {
            if let Some((_, cap)) = TYPES.iter().find(|(d, _)| d == t) {
                let api = crate::android::dex::descriptor_to_dotted(t).unwrap_or_default();
                self.found.entry((*cap, api)).or_default().insert(dex_name.to_string());
            }
        }
    }

    /// The uses found, sorted by capability then API.
    pub fn finish(self) -> Vec<ApiUse> {
        self.found
            .into_iter()
            .map(|((capability, api), files)| ApiUse {
                capability,
                api,
                dex_files: files.into_iter().collect(),
            })
            .collect()
    }
}
