//! APK signatures: which schemes are present (v1 JAR, v2, v3, v3.1) and the
//! signer certificates of each. Signatures are *not* verified cryptographically:
//! the goal is identity (certificate SHA-256) and hygiene (debug/test keys).
//!
//! - v1: `META-INF/*.RSA|DSA|EC`, a PKCS#7 `SignedData`; certificates are read
//!   from its `certificates [0] IMPLICIT` field.
//! - v2/v3: the APK Signing Block before the zip central directory
//!   (<https://source.android.com/docs/security/features/apksigning/v2>): pairs
//!   of (u64 length, u32 id, value); value = signers → signed data → certificates.

use serde::Serialize;
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::error::ScanError;
use crate::reader::Bytes;

const V2_ID: u32 = 0x7109_871a;
const V3_ID: u32 = 0xf053_68c0;
const V31_ID: u32 = 0x1b93_ad61;
const MAGIC: &[u8; 16] = b"APK Sig Block 42";
const MAX_LIST: usize = 64;

/// Which signature schemes an APK carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SchemesPresent {
    /// JAR signing (`META-INF/*.RSA|DSA|EC`).
    pub v1: bool,
    /// APK Signature Scheme v2.
    pub v2: bool,
    /// APK Signature Scheme v3.
    pub v3: bool,
    /// APK Signature Scheme v3.1.
    pub v31: bool,
}

/// A signer certificate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Certificate {
    /// SHA-256 of the DER encoding, lower-case hex.
    pub sha256: String,
    /// Subject DN in RFC 4514 order, e.g. `C=US,O=Android,CN=Android Debug`.
    pub subject: String,
    /// Issuer DN, same format.
    pub issuer: String,
    /// Serial number as `0x…`.
    pub serial: String,
    /// Validity start, RFC 3339 UTC.
    pub not_before: String,
    /// Validity end, RFC 3339 UTC.
    pub not_after: String,
    /// Signature algorithm name (or OID when unknown).
    pub sig_alg: String,
    /// Which schemes carry this certificate, e.g. `["v1", "v2"]`.
    pub schemes: Vec<String>,
    /// True for the Android SDK debug key (`CN=Android Debug`).
    pub debug_key: bool,
    /// True for the public AOSP test/platform keys (`android@android.com`).
    pub aosp_test_key: bool,
}

/// Signature facts of one APK.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Signing {
    /// Schemes present.
    pub schemes: SchemesPresent,
    /// Certificates, de-duplicated across schemes, sorted by SHA-256.
    pub certificates: Vec<Certificate>,
    /// Non-fatal problems (unparseable certificate, broken signing block).
    pub warnings: Vec<String>,
}

impl Signing {
    /// SHA-256 of every signer certificate, sorted.
    pub fn cert_sha256(&self) -> Vec<String> {
        self.certificates.iter().map(|c| c.sha256.clone()).collect()
    }
}

/// Reads the signatures of an APK from its raw bytes and its v1 signature
/// files (`(entry name, bytes)`).
pub fn read_signing(apk: &[u8], v1_files: &[(String, Vec<u8>)]) -> Signing {
    let mut s = Signing::default();
    let mut found: Vec<(String, Vec<u8>)> = Vec::new(); // (scheme, der)
    for (name, data) in v1_files {
        s.schemes.v1 = true;
        match pkcs7_certificates(data, name) {
            Ok(certs) => found.extend(certs.into_iter().map(|c| ("v1".to_string(), c))),
            Err(e) => s.warnings.push(e.to_string()),
        }
    }
    match signing_block(apk) {
        Ok(Some(pairs)) => {
            for (id, value) in pairs {
                let scheme = match id {
                    V2_ID => "v2",
                    V3_ID => "v3",
                    V31_ID => "v31",
                    _ => continue,
                };
                match scheme {
                    "v2" => s.schemes.v2 = true,
                    "v3" => s.schemes.v3 = true,
                    _ => s.schemes.v31 = true,
                }
                match scheme_certificates(value) {
                    Ok(certs) => found.extend(certs.into_iter().map(|c| (scheme.to_string(), c))),
                    Err(e) => s.warnings.push(e.to_string()),
                }
            }
        }
        Ok(None) => {}
        Err(e) => s.warnings.push(e.to_string()),
    }
    let mut by_hash: std::collections::BTreeMap<String, Certificate> = Default::default();
    for (scheme, der) in found {
        let hash = hex(&Sha256::digest(&der));
        if let Some(c) = by_hash.get_mut(&hash) {
            if !c.schemes.contains(&scheme) {
                c.schemes.push(scheme);
            }
            continue;
        }
        match describe(&der, hash.clone()) {
            Some(mut c) => {
                c.schemes.push(scheme);
                by_hash.insert(hash, c);
            }
            None => s
                .warnings
                .push(format!("{scheme}: certificate {hash} is not parseable X.509")),
        }
    }
    s.certificates = by_hash.into_values().collect();
    for c in &mut s.certificates {
        c.schemes.sort();
    }
    s
}

/// Lower-case hex.
pub(crate) fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    b.iter().fold(String::with_capacity(b.len() * 2), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

/// (id, value) pairs of the APK Signing Block.
type Pairs<'a> = Vec<(u32, &'a [u8])>;

/// Finds the APK Signing Block and returns its (id, value) pairs; `None` when absent.
fn signing_block(apk: &[u8]) -> Result<Option<Pairs<'_>>, ScanError> {
    let b = Bytes::new(apk, "<input>", "APK signing block");
    let Some(eocd) = find_eocd(apk) else {
        return Ok(None);
    };
    let cd_offset = b.usize32(eocd + 16)?;
    if cd_offset < 32 || cd_offset > apk.len() {
        return Ok(None);
    }
    let footer = cd_offset - 24;
    if b.slice(footer + 8, 16)? != MAGIC {
        return Ok(None);
    }
    let size = b.u64(footer)?;
    let total = usize::try_from(size)
        .ok()
        .and_then(|s| s.checked_add(8))
        .filter(|&t| t <= cd_offset)
        .ok_or_else(|| b.err(footer, format!("block size {size} larger than its offset")))?;
    let start = cd_offset - total;
    if b.u64(start)? != size {
        return Err(b.err(start, "block header and footer sizes differ"));
    }
    let mut pos = start + 8;
    let mut pairs = Vec::new();
    while pos + 12 <= footer {
        let len = b.u64(pos)?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l >= 4 && pos + 8 + l <= footer)
            .ok_or_else(|| b.err(pos, format!("pair length {len} runs past the block")))?;
        let id = b.u32(pos + 8)?;
        pairs.push((id, b.slice(pos + 12, len - 4)?));
        pos += 8 + len;
        if pairs.len() > 1024 {
            return Err(b.err(pos, "more than 1024 pairs"));
        }
    }
    Ok(Some(pairs))
}

fn find_eocd(data: &[u8]) -> Option<usize> {
    if data.len() < 22 {
        return None;
    }
    let lowest = data.len().saturating_sub(22 + 0xffff);
    (lowest..=data.len() - 22).rev().find(|&i| {
        data[i..i + 4] == [0x50, 0x4b, 0x05, 0x06]
            && (u16::from_le_bytes([data[i + 20], data[i + 21]]) as usize) == data.len() - i - 22
    })
}

/// Splits a sequence of u32-length-prefixed items.
fn lp_items<'a>(b: &Bytes<'a>, what: &str) -> Result<Vec<&'a [u8]>, ScanError> {
    let mut items = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        let len = b.usize32(pos)?;
        items.push(
            b.slice(pos + 4, len)
                .map_err(|_| b.err(pos, format!("{what} length {len} runs past its parent")))?,
        );
        pos += 4 + len;
        if items.len() > MAX_LIST {
            return Err(b.err(pos, format!("more than {MAX_LIST} {what}")));
        }
    }
    Ok(items)
}

/// One length-prefixed field at `pos`.
fn lp_at<'a>(b: &Bytes<'a>, pos: usize) -> Result<&'a [u8], ScanError> {
    let len = b.usize32(pos)?;
    b.slice(pos + 4, len)
}

fn scheme_certificates(value: &[u8]) -> Result<Vec<Vec<u8>>, ScanError> {
    let b = Bytes::new(value, "<input>", "APK signature scheme block");
    let signers = lp_at(&b, 0)?;
    let mut out = Vec::new();
    for signer in lp_items(&Bytes::new(signers, "<input>", b.format), "signers")? {
        let sb = Bytes::new(signer, "<input>", b.format);
        let signed = lp_at(&sb, 0)?;
        let db = Bytes::new(signed, "<input>", b.format);
        let digests_len = db.usize32(0)?;
        let certs_at = 4usize
            .checked_add(digests_len)
            .ok_or_else(|| db.err(0, "digest length overflows"))?;
        let certs = lp_at(&db, certs_at)?;
        for c in lp_items(&Bytes::new(certs, "<input>", b.format), "certificates")? {
            out.push(c.to_vec());
        }
    }
    Ok(out)
}

// --- minimal DER/BER walking for PKCS#7 ---------------------------------

struct Tlv {
    tag: u8,
    start: usize,
    content: usize,
    end: usize,
}

fn tlv(b: &Bytes<'_>, pos: usize, limit: usize, depth: usize) -> Result<Tlv, ScanError> {
    if depth > 32 {
        return Err(b.err(pos, "nesting deeper than 32"));
    }
    let tag = b.u8(pos)?;
    if tag & 0x1f == 0x1f {
        return Err(b.err(pos, "high tag numbers are not used in PKCS#7"));
    }
    let l0 = b.u8(pos + 1)?;
    let mut content = pos + 2;
    let end = if l0 < 0x80 {
        content + l0 as usize
    } else if l0 == 0x80 {
        // BER indefinite length: walk children up to the end-of-contents marker.
        if tag & 0x20 == 0 {
            return Err(b.err(pos, "indefinite length on a primitive"));
        }
        let mut p = content;
        loop {
            if p + 2 > limit {
                return Err(b.err(p, "missing end-of-contents"));
            }
            if b.u8(p)? == 0 && b.u8(p + 1)? == 0 {
                break p + 2;
            }
            p = tlv(b, p, limit, depth + 1)?.end;
        }
    } else {
        let n = (l0 & 0x7f) as usize;
        if n > 4 {
            return Err(b.err(pos + 1, format!("length of {n} bytes")));
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | b.u8(pos + 2 + i)? as usize;
        }
        content += n;
        content.checked_add(len).ok_or_else(|| b.err(pos, "length overflows"))?
    };
    if end > limit {
        return Err(b.err(pos, format!("element ends at {end}, past its parent at {limit}")));
    }
    Ok(Tlv {
        tag,
        start: pos,
        content,
        end,
    })
}

fn children(b: &Bytes<'_>, parent: &Tlv) -> Result<Vec<Tlv>, ScanError> {
    let mut out = Vec::new();
    let mut p = parent.content;
    while p < parent.end {
        if b.u8(p)? == 0 && b.data.get(p + 1) == Some(&0) {
            break; // end-of-contents of an indefinite-length parent
        }
        let t = tlv(b, p, parent.end, 1)?;
        p = t.end;
        out.push(t);
        if out.len() > 4096 {
            return Err(b.err(p, "more than 4096 elements"));
        }
    }
    Ok(out)
}

/// Certificates (raw DER) of a PKCS#7 `SignedData` (v1 `.RSA/.DSA/.EC` file).
pub(crate) fn pkcs7_certificates(data: &[u8], entry: &str) -> Result<Vec<Vec<u8>>, ScanError> {
    let b = Bytes::new(data, entry, "PKCS#7");
    let ci = tlv(&b, 0, data.len(), 0)?;
    let ci_kids = children(&b, &ci)?;
    let explicit = ci_kids
        .iter()
        .find(|t| t.tag == 0xa0)
        .ok_or_else(|| b.err(ci.content, "no [0] content in ContentInfo"))?;
    let sd = children(&b, explicit)?
        .into_iter()
        .next()
        .ok_or_else(|| b.err(explicit.content, "empty SignedData"))?;
    let certs = children(&b, &sd)?
        .into_iter()
        .find(|t| t.tag == 0xa0)
        .ok_or_else(|| b.err(sd.content, "SignedData has no certificates"))?;
    children(&b, &certs)?
        .into_iter()
        .filter(|t| t.tag == 0x30)
        .map(|t| Ok(b.slice(t.start, t.end - t.start)?.to_vec()))
        .collect()
}

fn describe(der: &[u8], sha256: String) -> Option<Certificate> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let subject = dn(cert.subject());
    let issuer = dn(cert.issuer());
    let serial = {
        let raw = cert.raw_serial();
        let h = hex(raw);
        let t = h.trim_start_matches('0');
        format!("0x{}", if t.is_empty() { "0" } else { t })
    };
    let debug_key = subject.split(',').any(|p| p == "CN=Android Debug");
    let aosp_test_key = subject.contains("emailAddress=android@android.com") && subject.contains("O=Android");
    Some(Certificate {
        sha256,
        subject,
        issuer,
        serial,
        not_before: rfc3339(cert.validity().not_before.timestamp()),
        not_after: rfc3339(cert.validity().not_after.timestamp()),
        sig_alg: sig_alg_name(&cert.signature_algorithm.algorithm.to_id_string()),
        schemes: Vec::new(),
        debug_key,
        aosp_test_key,
    })
}

/// RFC 4514 order (last RDN first), `,`-separated, as androguard prints it.
fn dn(name: &x509_parser::x509::X509Name<'_>) -> String {
    let mut parts = Vec::new();
    let rdns: Vec<_> = name.iter().collect();
    for rdn in rdns.into_iter().rev() {
        for atv in rdn.iter() {
            let oid = atv.attr_type().to_id_string();
            let key = match oid.as_str() {
                "2.5.4.3" => "CN",
                "2.5.4.6" => "C",
                "2.5.4.7" => "L",
                "2.5.4.8" => "ST",
                "2.5.4.10" => "O",
                "2.5.4.11" => "OU",
                "2.5.4.5" => "serialNumber",
                "2.5.4.9" => "street",
                "2.5.4.12" => "title",
                "2.5.4.4" => "SN",
                "2.5.4.42" => "GN",
                "0.9.2342.19200300.100.1.25" => "DC",
                "0.9.2342.19200300.100.1.1" => "UID",
                "1.2.840.113549.1.9.1" => "emailAddress",
                other => other,
            }
            .to_string();
            let val = match atv.as_str() {
                Ok(s) => s.to_string(),
                Err(_) => {
                    let raw = atv.attr_value().data;
                    // BMPString (UTF-16BE) or other: decode what is readable.
                    if atv.attr_value().tag().0 == 30 {
                        let u: Vec<u16> = raw.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
                        String::from_utf16_lossy(&u)
                    } else {
                        String::from_utf8_lossy(raw).into_owned()
                    }
                }
            };
            parts.push(format!("{key}={val}"));
        }
    }
    parts.join(",")
}

fn sig_alg_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10040.4.3" => "dsa-with-sha1",
        "2.16.840.1.101.3.4.3.2" => "dsa-with-sha256",
        other => other,
    }
    .to_string()
}

/// Seconds since the epoch → `YYYY-MM-DDTHH:MM:SS+00:00`.
fn rfc3339(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(rfc3339(1_659_423_249), "2022-08-02T06:54:09+00:00");
        assert_eq!(rfc3339(2_447_823_249), "2047-07-27T06:54:09+00:00");
    }

    #[test]
    fn garbage_pkcs7_is_an_error() {
        for data in [&b""[..], b"\x30", b"\x30\x84\xff\xff\xff\xff", b"\x30\x80\x30\x80"] {
            assert!(pkcs7_certificates(data, "META-INF/CERT.RSA").is_err());
        }
    }
}
