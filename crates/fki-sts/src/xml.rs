//! Safe XML parsing and namespace-aware lookup.
//!
//! Every document that reaches this crate from the outside (an Issue request, a service request,
//! an assertion) is parsed here first, with [`roxmltree`] and these rules:
//!
//! - a size limit ([`Limits::max_bytes`]) is checked before any parsing;
//! - a document type declaration is refused outright: no internal entities (billion laughs), no
//!   external entities (XXE), no DTD at all. SOAP 1.1 and 1.2 forbid DTDs in envelopes anyway;
//! - a node limit ([`Limits::max_nodes`]) bounds memory.
//!
//! Only after this parse succeeds is the same text handed to the XML-DSig engine (bergshamra),
//! so it never sees a DTD either.
//!
//! The lookup helpers match on namespace URI and local name, never on prefixes. The `only_*`
//! helpers insist on exactly one match: security-relevant elements (Body, Timestamp, Assertion,
//! Signature …) that occur twice are an error, which closes the door on wrapping attacks that
//! hide a second copy of a signed element.

use roxmltree::{Document, Node, ParsingOptions};

/// Namespace URIs used on the wire (see `../shared/specs/sf1514-sts/`).
pub mod ns {
    /// SOAP 1.1 envelope.
    pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
    /// SOAP 1.2 envelope (the STS Issue request, `SAMLTokenSoapTemplate.xml`).
    pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
    /// WS-Addressing 1.0.
    pub const WSA: &str = "http://www.w3.org/2005/08/addressing";
    /// WS-Security 1.0 secext.
    pub const WSSE: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
    /// WS-Security 1.1 secext (`wsse11:TokenType`).
    pub const WSSE11: &str = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd";
    /// WS-Security utility (`wsu:Id`, `wsu:Timestamp`).
    pub const WSU: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
    /// WS-Trust 1.3.
    pub const WST: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512";
    /// WS-Policy 2004/09 (`wsp:AppliesTo`).
    pub const WSP: &str = "http://schemas.xmlsoap.org/ws/2004/09/policy";
    /// WS-Federation authorization claims (`ClaimType`, `Value`).
    pub const AUTH: &str = "http://docs.oasis-open.org/wsfed/authorization/200706";
    /// XML-DSig.
    pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
    /// Exclusive C14N (also the namespace of `ec:InclusiveNamespaces`).
    pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    /// SAML 2.0 assertion.
    pub const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
    /// XML Schema instance (`xsi:type`).
    pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
    /// OIO Basic Privilege Profile.
    pub const BPP: &str = "http://itst.dk/oiosaml/basic_privilege_profile";
}

/// Limits applied by [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted document in bytes.
    pub max_bytes: usize,
    /// Largest accepted number of nodes (elements, attributes' owners, text …).
    pub max_nodes: u32,
}

impl Default for Limits {
    /// 1 MiB and 100 000 nodes: far above any token request or assertion, and above the
    /// service requests KOMBIT's SOAP services accept in practice.
    fn default() -> Self {
        Limits {
            max_bytes: 1024 * 1024,
            max_nodes: 100_000,
        }
    }
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Larger than [`Limits::max_bytes`].
    #[error("XML document too large: {size} bytes, limit is {limit}")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// Not UTF-8.
    #[error("XML document is not valid UTF-8")]
    NotUtf8,
    /// A `<!DOCTYPE …>` was present: DTDs, and with them entity expansion and external
    /// entities, are refused.
    #[error("XML document type declarations (DTD) are not allowed")]
    DtdForbidden,
    /// More nodes than [`Limits::max_nodes`].
    #[error("XML document has too many nodes (limit {0})")]
    TooManyNodes(u32),
    /// Not well-formed XML.
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// An expected element is missing.
    #[error("missing element {0}")]
    Missing(String),
    /// An element that must occur once occurs more often.
    #[error("element {0} occurs more than once")]
    Duplicate(String),
    /// An element's content or attribute is invalid.
    #[error("invalid {what}: {why}")]
    Invalid {
        /// What was being read.
        what: String,
        /// Why it was refused.
        why: String,
    },
}

impl XmlError {
    pub(crate) fn invalid(what: impl Into<String>, why: impl Into<String>) -> Self {
        XmlError::Invalid {
            what: what.into(),
            why: why.into(),
        }
    }
}

/// Checks size and encoding of raw bytes and returns them as text.
pub fn as_text(bytes: &[u8], limits: Limits) -> Result<&str, XmlError> {
    if bytes.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)
}

/// Parses `text` with the rules of this module (size limit, no DTD, node limit).
pub fn parse(text: &str, limits: Limits) -> Result<Document<'_>, XmlError> {
    if text.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            size: text.len(),
            limit: limits.max_bytes,
        });
    }
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: limits.max_nodes,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => XmlError::DtdForbidden,
        roxmltree::Error::NodesLimitReached => XmlError::TooManyNodes(limits.max_nodes),
        other => XmlError::Malformed(other.to_string()),
    })
}

/// `{namespace}local` for messages.
pub fn qname(namespace: &str, local: &str) -> String {
    format!("{{{namespace}}}{local}")
}

/// Whether `node` is the element `{namespace}local`.
pub fn is(node: Node<'_, '_>, namespace: &str, local: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == local
        && node.tag_name().namespace() == Some(namespace)
}

/// Element children `{namespace}local` of `node`.
pub fn children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    namespace: &'a str,
    local: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children().filter(move |c| is(*c, namespace, local))
}

/// The first element child `{namespace}local` of `node`, if any.
pub fn child<'a, 'input>(
    node: Node<'a, 'input>,
    namespace: &str,
    local: &str,
) -> Option<Node<'a, 'input>> {
    node.children().find(|c| is(*c, namespace, local))
}

/// The one element child `{namespace}local` of `node`: missing or repeated is an error.
pub fn only_child<'a, 'input>(
    node: Node<'a, 'input>,
    namespace: &str,
    local: &str,
) -> Result<Node<'a, 'input>, XmlError> {
    let mut found = node.children().filter(|c| is(*c, namespace, local));
    let first = found
        .next()
        .ok_or_else(|| XmlError::Missing(qname(namespace, local)))?;
    if found.next().is_some() {
        return Err(XmlError::Duplicate(qname(namespace, local)));
    }
    Ok(first)
}

/// At most one element child `{namespace}local` of `node`: repeated is an error.
pub fn opt_child<'a, 'input>(
    node: Node<'a, 'input>,
    namespace: &str,
    local: &str,
) -> Result<Option<Node<'a, 'input>>, XmlError> {
    let mut found = node.children().filter(|c| is(*c, namespace, local));
    let first = found.next();
    if first.is_some() && found.next().is_some() {
        return Err(XmlError::Duplicate(qname(namespace, local)));
    }
    Ok(first)
}

/// The one descendant `{namespace}local` anywhere below (or at) `node`.
pub fn only_descendant<'a, 'input>(
    node: Node<'a, 'input>,
    namespace: &str,
    local: &str,
) -> Result<Node<'a, 'input>, XmlError> {
    let mut found = node.descendants().filter(|c| is(*c, namespace, local));
    let first = found
        .next()
        .ok_or_else(|| XmlError::Missing(qname(namespace, local)))?;
    if found.next().is_some() {
        return Err(XmlError::Duplicate(qname(namespace, local)));
    }
    Ok(first)
}

/// The element's text content (concatenated text children), trimmed.
pub fn text(node: Node<'_, '_>) -> String {
    let mut s = String::new();
    for c in node.children() {
        if let Some(t) = c.text()
            && c.is_text()
        {
            s.push_str(t);
        }
    }
    s.trim().to_owned()
}

/// The element's text with all XML whitespace removed (base64 content).
pub fn text_no_ws(node: Node<'_, '_>) -> String {
    let s = text(node);
    if !s.bytes().any(|b| b.is_ascii_whitespace()) {
        return s;
    }
    // Removing ASCII bytes from UTF-8 leaves UTF-8; byte-wise is much faster than char-wise
    // on the long base64 certificates this is used for.
    let bytes: Vec<u8> = s
        .into_bytes()
        .into_iter()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    String::from_utf8(bytes).unwrap_or_default()
}

/// The `Algorithm` attribute of an optional element.
pub fn algorithm<'a>(node: Option<Node<'a, '_>>) -> Option<&'a str> {
    node.and_then(|n| n.attribute("Algorithm"))
}

/// The `wsu:Id` attribute of an element.
pub fn wsu_id<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    node.attribute((ns::WSU, "Id"))
}

/// Refuses documents in which two elements carry the same identifier in any attribute an
/// XML-DSig engine may treat as an ID (`Id`, `ID`, `id`, `AssertionID`, in any namespace).
///
/// XML-DSig resolves `URI="#x"` through such attributes; with duplicates the element the
/// signature covers and the element the application reads can differ (signature wrapping).
pub fn check_unique_ids(doc: &Document<'_>) -> Result<(), XmlError> {
    let mut seen = std::collections::HashSet::new();
    for node in doc.descendants().filter(|n| n.is_element()) {
        for attr in node.attributes() {
            if matches!(attr.name(), "Id" | "ID" | "id" | "AssertionID")
                && !seen.insert(attr.value())
            {
                return Err(XmlError::invalid(
                    "document",
                    format!("identifier {:?} is used more than once", attr.value()),
                ));
            }
        }
    }
    Ok(())
}

/// The text of element `node` from the original input, as a self-contained document. If the
/// element's text parses alone (with the same name), it is returned byte-for-byte; otherwise the
/// namespace declarations it inherits from its ancestors are added to its start tag, the rest
/// staying byte-for-byte the input.
///
/// Exclusive C14N output only depends on the namespaces an element visibly uses, so a signature
/// over the element verifies the same in the fragment as in the whole document.
pub fn standalone_fragment(input: &str, node: Node<'_, '_>) -> Result<String, XmlError> {
    let range = node.range();
    let raw = input
        .get(range.clone())
        .ok_or_else(|| XmlError::invalid("element range", "outside the input"))?;
    // Self-contained already (the usual case: KOMBIT's and our assertions declare their
    // namespaces on the root): return the bytes unchanged.
    if parse(raw, Limits::default()).is_ok_and(|d| d.root_element().tag_name() == node.tag_name()) {
        return Ok(raw.to_owned());
    }
    // Declarations on the element itself, by prefix (None = default namespace).
    let own = declared_prefixes(raw);
    let mut extra = String::new();
    for n in node.namespaces() {
        if own.contains(&n.name().map(str::to_owned)) || n.name() == Some("xml") {
            continue;
        }
        match n.name() {
            Some(p) => extra.push_str(&format!(" xmlns:{p}=\"{}\"", escape_attr(n.uri()))),
            None => extra.push_str(&format!(" xmlns=\"{}\"", escape_attr(n.uri()))),
        }
    }
    if extra.is_empty() {
        return Ok(raw.to_owned());
    }
    let name_end = raw[1..]
        .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
        .map(|i| i + 1)
        .ok_or_else(|| XmlError::invalid("element", "unterminated start tag"))?;
    let mut out = String::with_capacity(raw.len() + extra.len());
    out.push_str(&raw[..name_end]);
    out.push_str(&extra);
    out.push_str(&raw[name_end..]);
    Ok(out)
}

/// As [`standalone_fragment`], declaring only the inherited namespaces the element and its
/// descendants use in their names (of elements and attributes): a copy to store and write back
/// inside another document, without the envelope's unrelated declarations.
pub fn used_ns_fragment(input: &str, node: Node<'_, '_>) -> Result<String, XmlError> {
    let range = node.range();
    let raw = input
        .get(range)
        .ok_or_else(|| XmlError::invalid("element range", "outside the input"))?;
    let mut used: Vec<&str> = Vec::new();
    for n in node.descendants().filter(|n| n.is_element()) {
        let uris = n
            .tag_name()
            .namespace()
            .into_iter()
            .chain(n.attributes().filter_map(|a| a.namespace()));
        for u in uris {
            if !used.contains(&u) {
                used.push(u);
            }
        }
    }
    let own = declared_prefixes(raw);
    let mut extra = String::new();
    for n in node.namespaces() {
        if own.contains(&n.name().map(str::to_owned))
            || n.name() == Some("xml")
            || !used.contains(&n.uri())
        {
            continue;
        }
        match n.name() {
            Some(p) => extra.push_str(&format!(" xmlns:{p}=\"{}\"", escape_attr(n.uri()))),
            None => extra.push_str(&format!(" xmlns=\"{}\"", escape_attr(n.uri()))),
        }
    }
    let name_end = raw[1..]
        .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
        .map(|i| i + 1)
        .ok_or_else(|| XmlError::invalid("element", "unterminated start tag"))?;
    let out = format!("{}{extra}{}", &raw[..name_end], &raw[name_end..]);
    // A prefix the element uses only in a value (xsi:type) would be missing: fall back.
    if parse(&out, Limits::default()).is_ok_and(|d| d.root_element().tag_name() == node.tag_name())
    {
        Ok(out)
    } else {
        standalone_fragment(input, node)
    }
}

/// The prefixes declared (`xmlns:p=…`, or `None` for `xmlns=…`) in the start tag at the
/// beginning of `raw`. A small tokenizer that skips quoted attribute values.
fn declared_prefixes(raw: &str) -> std::collections::HashSet<Option<String>> {
    let mut out = std::collections::HashSet::new();
    let bytes = raw.as_bytes();
    let mut i = 1;
    // skip the element name
    while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' && bytes[i] != b'/'
    {
        i += 1;
    }
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] == b'>' || bytes[i] == b'/' {
            break;
        }
        let name_start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let name = &raw[name_start..i];
        while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\'' {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let quote = bytes[i];
        i += 1;
        while i < bytes.len() && bytes[i] != quote {
            i += 1;
        }
        i += 1;
        if name == "xmlns" {
            out.insert(None);
        } else if let Some(p) = name.strip_prefix("xmlns:") {
            out.insert(Some(p.to_owned()));
        }
    }
    out
}

/// Escapes text content.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes an attribute value (double-quoted).
pub fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_xxe() {
        let xxe = r#"<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<foo>&xxe;</foo>"#;
        assert_eq!(
            parse(xxe, Limits::default()).unwrap_err(),
            XmlError::DtdForbidden
        );
    }

    #[test]
    fn refuses_billion_laughs() {
        let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol4;</lolz>"#;
        let err = parse(bomb, Limits::default()).unwrap_err();
        assert_eq!(err, XmlError::DtdForbidden);
        assert!(err.to_string().contains("DTD"));
    }

    #[test]
    fn refuses_oversized_and_too_many_nodes() {
        let big = format!("<a>{}</a>", "x".repeat(2000));
        let limits = Limits {
            max_bytes: 1000,
            max_nodes: 100_000,
        };
        assert!(matches!(
            parse(&big, limits),
            Err(XmlError::TooLarge { size: 2007, .. })
        ));
        let many = format!("<a>{}</a>", "<b/>".repeat(200));
        let limits = Limits {
            max_bytes: 100_000,
            max_nodes: 100,
        };
        assert_eq!(
            parse(&many, limits).unwrap_err(),
            XmlError::TooManyNodes(100)
        );
    }

    #[test]
    fn namespace_lookup_ignores_prefixes_and_rejects_duplicates() {
        let text = r#"<x:a xmlns:x="urn:x" xmlns:y="urn:y"><y:b>1</y:b><b xmlns="urn:y"> 2 </b><x:b/></x:a>"#;
        let doc = parse(text, Limits::default()).unwrap();
        let root = doc.root_element();
        assert_eq!(children(root, "urn:y", "b").count(), 2);
        assert!(matches!(
            only_child(root, "urn:y", "b"),
            Err(XmlError::Duplicate(_))
        ));
        assert_eq!(super::text(only_child(root, "urn:x", "b").unwrap()), "");
        assert!(matches!(
            only_child(root, "urn:z", "b"),
            Err(XmlError::Missing(_))
        ));
    }

    #[test]
    fn standalone_fragment_adds_inherited_namespaces() {
        let text = r#"<e:Env xmlns:e="urn:e" xmlns:s="urn:s"><s:A ID="1"><s:B/></s:A></e:Env>"#;
        let doc = parse(text, Limits::default()).unwrap();
        let a = doc.root_element().first_element_child().unwrap();
        let frag = standalone_fragment(text, a).unwrap();
        assert!(frag.starts_with("<s:A xmlns:"));
        let doc2 = parse(&frag, Limits::default()).unwrap();
        assert!(is(doc2.root_element(), "urn:s", "A"));
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let text = r#"<a xmlns:wsu="urn:u"><b wsu:Id="x"/><c Id="x"/></a>"#;
        let doc = parse(text, Limits::default()).unwrap();
        assert!(check_unique_ids(&doc).is_err());
    }
}
