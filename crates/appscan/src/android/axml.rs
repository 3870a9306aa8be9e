//! Android binary XML (AXML), as found in `AndroidManifest.xml` and compiled
//! `res/xml/*.xml` files.
//!
//! Format: a `RES_XML_TYPE` chunk holding a string pool, an optional resource
//! id map, and a flat run of namespace / element / text chunks from which the
//! tree is rebuilt. Attribute names are resolved the way Android resolves them:
//! by the resource id when it is a known `android:` attribute (packers put
//! decoy names in the string pool), else by the string.

use serde::Serialize;

use crate::android::string_pool::StringPool;
use crate::error::ScanError;
use crate::limits::Limits;
use crate::reader::Bytes;

const RES_STRING_POOL_TYPE: u16 = 0x0001;
const RES_XML_TYPE: u16 = 0x0003;
const RES_XML_START_NAMESPACE_TYPE: u16 = 0x0100;
const RES_XML_END_NAMESPACE_TYPE: u16 = 0x0101;
const RES_XML_START_ELEMENT_TYPE: u16 = 0x0102;
const RES_XML_END_ELEMENT_TYPE: u16 = 0x0103;
const RES_XML_CDATA_TYPE: u16 = 0x0104;
const RES_XML_RESOURCE_MAP_TYPE: u16 = 0x0180;

/// The `android:` namespace URI.
pub const ANDROID_NS: &str = "http://schemas.android.com/apk/res/android";

const MAX_DEPTH: usize = 512;

/// A typed attribute value (`Res_value`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttrValue {
    /// A literal string.
    String(String),
    /// A resource reference `@0x7f020004`.
    Reference(u32),
    /// A theme attribute reference `?0x01010000`.
    Attribute(u32),
    /// A decimal integer.
    Int(i32),
    /// An integer written in hex (flags).
    Hex(u32),
    /// A boolean.
    Bool(bool),
    /// A float.
    Float(f32),
    /// An ARGB colour.
    Color(u32),
    /// Any other type (dimension, fraction, null ...): raw type and data.
    Other {
        /// `Res_value.dataType`.
        data_type: u8,
        /// `Res_value.data`.
        data: u32,
    },
}

impl AttrValue {
    /// The value rendered as text: strings as is, references as `@7f020004`,
    /// integers in decimal, flags as `0x…`, booleans as `true`/`false`.
    pub fn render(&self) -> String {
        match self {
            AttrValue::String(s) => s.clone(),
            AttrValue::Reference(r) => format!("@{r:x}"),
            AttrValue::Attribute(r) => format!("?{r:x}"),
            AttrValue::Int(i) => i.to_string(),
            AttrValue::Hex(h) => format!("0x{h:x}"),
            AttrValue::Bool(b) => b.to_string(),
            AttrValue::Float(f) => f.to_string(),
            AttrValue::Color(c) => format!("#{c:08x}"),
            AttrValue::Other { data, .. } => data.to_string(),
        }
    }

    /// Interprets the value as a boolean (`true`/`false` literal strings too).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            AttrValue::Bool(b) => Some(*b),
            AttrValue::Int(i) => Some(*i != 0),
            AttrValue::String(s) => match s.as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }
}

/// One attribute of an element.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct XmlAttribute {
    /// Namespace prefix (`android`), if the attribute is namespaced.
    pub prefix: Option<String>,
    /// Namespace URI, if any.
    pub namespace: Option<String>,
    /// Local name, resolved through the resource id map when possible.
    pub name: String,
    /// The `android:` resource id of the attribute, if the map had one.
    pub resource_id: Option<u32>,
    /// The string-pool name when it differs from the name the resource id
    /// gives (a packer's decoy name; Android goes by the id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoy_name: Option<String>,
    /// The value.
    pub value: AttrValue,
}

/// One element with its attributes and children.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct XmlElement {
    /// Local name (`manifest`, `uses-permission`, ...).
    pub name: String,
    /// Attributes in file order.
    pub attributes: Vec<XmlAttribute>,
    /// Namespace declarations made on this element: (prefix, uri).
    pub namespace_decls: Vec<(String, String)>,
    /// Child elements in file order.
    pub children: Vec<XmlElement>,
    /// Text content (CDATA chunks), concatenated.
    pub text: String,
}

impl XmlElement {
    /// The value of the attribute `name` in the `android:` namespace (or with
    /// no namespace when `android` is false).
    pub fn attr(&self, name: &str, android: bool) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find(|a| a.name == name && (a.namespace.as_deref() == Some(ANDROID_NS)) == android)
            .map(|a| &a.value)
    }

    /// `android:name` or a plain attribute, rendered as text.
    pub fn attr_str(&self, name: &str) -> Option<String> {
        self.attr(name, true)
            .or_else(|| self.attr(name, false))
            .map(AttrValue::render)
    }

    /// Children with the given element name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a XmlElement> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// All descendants (depth first, document order) with the given name.
    pub fn descendants_named<'a>(&'a self, name: &'a str, out: &mut Vec<&'a XmlElement>) {
        for c in &self.children {
            if c.name == name {
                out.push(c);
            }
            c.descendants_named(name, out);
        }
    }

    /// Renders the tree as indented XML text (four spaces per level, every
    /// element written as `<x ...></x>`), the style of the golden files.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write_xml(0, &mut out);
        out
    }

    fn write_xml(&self, depth: usize, out: &mut String) {
        let indent = "    ".repeat(depth);
        out.push_str(&indent);
        out.push('<');
        out.push_str(&self.name);
        for (prefix, uri) in &self.namespace_decls {
            out.push_str(&format!(" xmlns:{prefix}=\"{}\"", escape(uri)));
        }
        for a in &self.attributes {
            out.push(' ');
            if let Some(p) = &a.prefix {
                out.push_str(p);
                out.push(':');
            }
            out.push_str(&a.name);
            out.push_str("=\"");
            out.push_str(&escape(&a.value.render()));
            out.push('"');
        }
        out.push('>');
        if !self.text.is_empty() {
            out.push_str(&escape(&self.text));
        }
        if !self.children.is_empty() {
            out.push('\n');
            for c in &self.children {
                c.write_xml(depth + 1, out);
            }
            out.push_str(&indent);
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push_str(">\n");
    }
}

fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(ch),
        }
    }
    o
}

/// Parses a binary XML document and returns its root element.
///
/// `entry` names the archive entry for error locations.
pub fn parse_axml(data: &[u8], entry: &str, limits: &Limits) -> Result<XmlElement, ScanError> {
    let b = Bytes::new(data, entry, "AXML");
    let ty = b.u16(0)?;
    let header_size = b.u16(2)? as usize;
    if ty != RES_XML_TYPE {
        // Android accepts some garbage types here; androguard too. Require at
        // least a plausible header so that random data is rejected.
        if header_size != 8 {
            return Err(b.err(0, format!("not binary XML (chunk type {ty:#06x})")));
        }
    }
    if header_size < 8 {
        return Err(b.err(2, format!("file header size {header_size} < 8")));
    }
    // The declared file size is often wrong in hostile files; the data length wins.
    let end = data.len();
    let mut pos = header_size;
    let mut pool: Option<StringPool> = None;
    let mut res_ids: Vec<u32> = Vec::new();
    let mut ns_stack: Vec<(String, String)> = Vec::new();
    let mut pending_decls: Vec<(String, String)> = Vec::new();
    let mut stack: Vec<XmlElement> = Vec::new();
    let mut root: Option<XmlElement> = None;
    let mut nodes = 0usize;

    while pos + 8 <= end {
        let cty = b.u16(pos)?;
        let chdr = b.u16(pos + 2)? as usize;
        let csize = b.usize32(pos + 4)?;
        if csize < 8 || chdr < 8 || chdr > csize {
            return Err(b.err(
                pos,
                format!("chunk {cty:#06x} with header size {chdr} and size {csize}"),
            ));
        }
        if pos.checked_add(csize).is_none_or(|e| e > end) {
            return Err(b.err(
                pos,
                format!("chunk {cty:#06x} of {csize} bytes runs past the end ({end} bytes)"),
            ));
        }
        match cty {
            RES_STRING_POOL_TYPE if pool.is_none() => {
                pool = Some(StringPool::parse(&b, pos, csize, limits.max_strings)?);
            }
            RES_XML_RESOURCE_MAP_TYPE => {
                let n = (csize - chdr) / 4;
                if n > limits.max_strings {
                    return Err(ScanError::limit(
                        entry,
                        Some(pos),
                        "resource map size",
                        n as u64,
                        limits.max_strings as u64,
                    ));
                }
                res_ids = (0..n).map(|i| b.u32(pos + chdr + i * 4)).collect::<Result<_, _>>()?;
            }
            RES_XML_START_NAMESPACE_TYPE | RES_XML_END_NAMESPACE_TYPE => {
                let p = pool
                    .as_ref()
                    .ok_or_else(|| b.err(pos, "namespace before string pool"))?;
                let prefix = p.get(b.u32(pos + chdr)?).unwrap_or("").to_string();
                let uri = p.get(b.u32(pos + chdr + 4)?).unwrap_or("").to_string();
                if cty == RES_XML_START_NAMESPACE_TYPE {
                    ns_stack.push((prefix.clone(), uri.clone()));
                    pending_decls.push((prefix, uri));
                } else {
                    ns_stack.pop();
                }
            }
            RES_XML_START_ELEMENT_TYPE => {
                nodes += 1;
                if nodes > limits.max_xml_nodes {
                    return Err(ScanError::limit(
                        entry,
                        Some(pos),
                        "XML element count",
                        nodes as u64,
                        limits.max_xml_nodes as u64,
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(b.err(pos, "elements nested deeper than 512"));
                }
                let p = pool.as_ref().ok_or_else(|| b.err(pos, "element before string pool"))?;
                let el = parse_start_element(&b, pos, chdr, csize, p, &res_ids, &ns_stack)?;
                let mut el = el;
                el.namespace_decls = std::mem::take(&mut pending_decls);
                if root.is_some() && stack.is_empty() {
                    // A second root: Android stops at the end of the first document.
                    break;
                }
                stack.push(el);
            }
            RES_XML_END_ELEMENT_TYPE => {
                if let Some(done) = stack.pop() {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => root = Some(done),
                    }
                }
            }
            RES_XML_CDATA_TYPE => {
                if let (Some(p), Some(top)) = (pool.as_ref(), stack.last_mut()) {
                    if let Some(s) = p.get(b.u32(pos + chdr)?) {
                        top.text.push_str(s);
                    }
                }
            }
            _ => {} // unknown chunks are skipped, as Android does
        }
        pos += csize;
    }
    // Unclosed elements (truncated file): close them so what was read is kept.
    while let Some(done) = stack.pop() {
        match stack.last_mut() {
            Some(parent) => parent.children.push(done),
            None => {
                if root.is_none() {
                    root = Some(done)
                }
            }
        }
    }
    root.ok_or_else(|| b.err(pos.min(end), "no element found"))
}

fn parse_start_element(
    b: &Bytes<'_>,
    pos: usize,
    chdr: usize,
    csize: usize,
    pool: &StringPool,
    res_ids: &[u32],
    ns_stack: &[(String, String)],
) -> Result<XmlElement, ScanError> {
    let ext = pos + chdr;
    let name = pool.get(b.u32(ext + 4)?).unwrap_or("").to_string();
    let attr_start = b.u16(ext + 8)? as usize;
    let attr_size = b.u16(ext + 10)? as usize;
    let attr_count = b.u16(ext + 12)? as usize;
    if attr_count > 0 && attr_size < 20 {
        return Err(b.err(ext + 10, format!("attribute size {attr_size} < 20")));
    }
    let first = ext + attr_start;
    let last_end = first + attr_count * attr_size;
    if last_end > pos + csize {
        return Err(b.err(
            first,
            format!("{attr_count} attributes of {attr_size} bytes run past the chunk"),
        ));
    }
    let mut attributes = Vec::with_capacity(attr_count);
    for i in 0..attr_count {
        let a = first + i * attr_size;
        let ns_idx = b.u32(a)?;
        let name_idx = b.u32(a + 4)?;
        let raw_idx = b.u32(a + 8)?;
        let data_type = b.u8(a + 15)?;
        let data = b.u32(a + 16)?;
        let namespace = pool.get(ns_idx).filter(|s| !s.is_empty()).map(str::to_string);
        let resource_id = res_ids.get(name_idx as usize).copied();
        let pool_name = pool
            .get(name_idx)
            .filter(|n| n.chars().any(char::is_alphanumeric))
            .unwrap_or("");
        // A known android attribute id names the attribute when it is
        // namespaced (packers put decoy strings in the pool) or when the pool
        // name is blank (packers strip names); a plain named attribute
        // (`package`) keeps its name whatever the id map says.
        let known = resource_id
            .filter(|_| namespace.is_some() || pool_name.is_empty())
            .and_then(android_attr_name);
        let name = match known {
            Some(k) => k.to_string(),
            None if !pool_name.is_empty() => pool_name.to_string(),
            None => match resource_id {
                Some(id) => format!("UNKNOWN_SYSTEM_ATTRIBUTE_{id:08x}"),
                None => format!("UNNAMED_ATTRIBUTE_{i}"),
            },
        };
        let unnamed_system = known.is_none() && pool_name.is_empty() && resource_id.is_some_and(|id| id >> 24 == 0x01);
        let namespace = if known.is_some() || unnamed_system {
            Some(ANDROID_NS.to_string())
        } else {
            namespace
        };
        let prefix = namespace.as_ref().map(|uri| {
            ns_stack
                .iter()
                .rev()
                .find(|(_, u)| u == uri)
                .map(|(p, _)| p.clone())
                .unwrap_or_else(|| {
                    if uri == ANDROID_NS {
                        "android".to_string()
                    } else {
                        "ns".to_string()
                    }
                })
        });
        let value = typed_value(data_type, data, raw_idx, pool);
        let decoy_name = (known.is_some() && !pool_name.is_empty() && pool_name != name).then(|| pool_name.to_string());
        attributes.push(XmlAttribute {
            prefix,
            namespace,
            name,
            resource_id,
            decoy_name,
            value,
        });
    }
    Ok(XmlElement {
        name,
        attributes,
        ..Default::default()
    })
}

fn typed_value(data_type: u8, data: u32, raw_idx: u32, pool: &StringPool) -> AttrValue {
    match data_type {
        0x03 => AttrValue::String(pool.get(data).or_else(|| pool.get(raw_idx)).unwrap_or("").to_string()),
        0x01 => AttrValue::Reference(data),
        0x02 => AttrValue::Attribute(data),
        0x04 => AttrValue::Float(f32::from_bits(data)),
        0x10 => AttrValue::Int(data as i32),
        0x11 => AttrValue::Hex(data),
        0x12 => AttrValue::Bool(data != 0),
        0x1c..=0x1f => AttrValue::Color(data),
        _ => match pool.get(raw_idx) {
            Some(s) if raw_idx != u32::MAX => AttrValue::String(s.to_string()),
            _ => AttrValue::Other { data_type, data },
        },
    }
}

/// Names of the `android:` attributes the scanner reads, by resource id
/// (`android.R.attr`, stable across API levels).
pub fn android_attr_name(id: u32) -> Option<&'static str> {
    Some(match id {
        0x0101_0000 => "theme",
        0x0101_0001 => "label",
        0x0101_0002 => "icon",
        0x0101_0003 => "name",
        0x0101_0006 => "permission",
        0x0101_0007 => "readPermission",
        0x0101_0008 => "writePermission",
        0x0101_0009 => "protectionLevel",
        0x0101_000b => "sharedUserId",
        0x0101_000e => "enabled",
        0x0101_000f => "debuggable",
        0x0101_0010 => "exported",
        0x0101_0011 => "process",
        0x0101_0018 => "authorities",
        0x0101_001b => "grantUriPermissions",
        0x0101_0017 => "excludeFromRecents",
        0x0101_001c => "priority",
        0x0101_001d => "launchMode",
        0x0101_001e => "screenOrientation",
        0x0101_001f => "configChanges",
        0x0101_0020 => "description",
        0x0101_0024 => "value",
        0x0101_0025 => "resource",
        0x0101_0026 => "mimeType",
        0x0101_0027 => "scheme",
        0x0101_0028 => "host",
        0x0101_0029 => "port",
        0x0101_002a => "path",
        0x0101_020c => "minSdkVersion",
        0x0101_021b => "versionCode",
        0x0101_021c => "versionName",
        0x0101_0270 => "targetSdkVersion",
        0x0101_0271 => "maxSdkVersion",
        0x0101_0280 => "allowBackup",
        0x0101_02b7 => "installLocation",
        0x0101_028e => "required",
        0x0101_04ec => "usesCleartextTraffic",
        0x0101_0527 => "networkSecurityConfig",
        _ => return None,
    })
}
