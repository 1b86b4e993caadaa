//! `StandardRetur` (`urn:oio:sagdok:3.0.0`, `SagDokObjekt.xsd` of
//! `../shared/specs/sf1460-beskedfordeler/xsd/1.1/`): the answer of every Beskedfordeler operation
//! (`AfsendBeskedOutput`, `ModtagBeskedOutput`, `FlytBeskedTilFejlkoeOutput` are all
//! `sd:BasicOutputType`).

use crate::kuvert::{NS_SAGDOK, escape_text};

/// The status codes the Beskedfordeler answers with (the OIO convention: 20 OK, 4x the caller's
/// fault, 5x the service's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKode {
    /// 20: accepted (for afsend: durably stored).
    Ok,
    /// 40: the request is malformed or breaks the contract.
    UgyldigInput,
    /// 41: not authorised (missing, invalid or expired token; no agreement). KOMBIT's samples
    /// answer an expired token with 41.
    IkkeAutoriseret,
    /// 42: the addressed object does not exist.
    IkkeFundet,
    /// 43: the request conflicts with the state of the object.
    Konflikt,
    /// 44: the message is too large.
    ForStor,
    /// 50: the service failed.
    Fejl,
}

impl StatusKode {
    /// The numeric code.
    pub fn kode(self) -> u16 {
        match self {
            StatusKode::Ok => 20,
            StatusKode::UgyldigInput => 40,
            StatusKode::IkkeAutoriseret => 41,
            StatusKode::IkkeFundet => 42,
            StatusKode::Konflikt => 43,
            StatusKode::ForStor => 44,
            StatusKode::Fejl => 50,
        }
    }
}

/// A `StandardRetur` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandardRetur {
    pub status_kode: u16,
    pub fejlbesked_tekst: Option<String>,
}

impl StandardRetur {
    /// StatusKode 20 without a text.
    pub fn ok() -> Self {
        StandardRetur {
            status_kode: StatusKode::Ok.kode(),
            fejlbesked_tekst: None,
        }
    }

    /// An error with its text.
    pub fn fejl(kode: StatusKode, tekst: impl Into<String>) -> Self {
        StandardRetur {
            status_kode: kode.kode(),
            fejlbesked_tekst: Some(tekst.into()),
        }
    }

    /// `<StandardRetur xmlns="urn:oio:sagdok:3.0.0">…</StandardRetur>` with its own namespace
    /// declaration (to be wrapped in an output element).
    pub fn to_xml(&self) -> String {
        let mut s = format!(
            "<StandardRetur xmlns=\"{NS_SAGDOK}\"><StatusKode>{}</StatusKode>",
            self.status_kode
        );
        if let Some(t) = &self.fejlbesked_tekst {
            s.push_str("<FejlbeskedTekst>");
            escape_text(&mut s, t);
            s.push_str("</FejlbeskedTekst>");
        }
        s.push_str("</StandardRetur>");
        s
    }

    /// A whole output document: `<{prefix}:{element} xmlns:{prefix}="{namespace}">` around the
    /// StandardRetur, e.g. `("ns4", "ModtagBeskedOutput", "urn:oio:sts:1.0.0")`.
    pub fn output_document(&self, prefix: &str, element: &str, namespace: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
             <{prefix}:{element} xmlns:{prefix}=\"{namespace}\">{}</{prefix}:{element}>",
            self.to_xml()
        )
    }

    /// Read the first `StandardRetur` in a document (any wrapper), e.g. a receiver's
    /// `ModtagBeskedOutput`.
    pub fn find_in(xml: &str) -> Result<StandardRetur, String> {
        let doc =
            fki_sts::xml::parse(xml, fki_sts::xml::Limits::default()).map_err(|e| e.to_string())?;
        let retur = doc
            .descendants()
            .find(|n| n.has_tag_name((NS_SAGDOK, "StandardRetur")))
            .ok_or("no StandardRetur in the answer")?;
        let kode = retur
            .children()
            .find(|n| n.has_tag_name((NS_SAGDOK, "StatusKode")))
            .and_then(|n| n.text())
            .ok_or("StandardRetur without StatusKode")?;
        let status_kode = kode
            .trim()
            .parse::<u16>()
            .map_err(|_| format!("StatusKode '{}' is not a number", kode.trim()))?;
        let fejlbesked_tekst = retur
            .children()
            .find(|n| n.has_tag_name((NS_SAGDOK, "FejlbeskedTekst")))
            .map(|n| n.text().unwrap_or_default().to_owned());
        Ok(StandardRetur {
            status_kode,
            fejlbesked_tekst,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_an_output_document() {
        let r = StandardRetur::fejl(StatusKode::IkkeAutoriseret, "token udløbet <&>");
        let doc = r.output_document("ns4", "ModtagBeskedOutput", "urn:oio:sts:1.0.0");
        assert!(doc.contains("<StatusKode>41</StatusKode>"), "{doc}");
        assert!(doc.contains("token udløbet &lt;&amp;&gt;"), "{doc}");
        assert_eq!(StandardRetur::find_in(&doc).unwrap(), r);
        let ok = StandardRetur::ok();
        assert_eq!(
            StandardRetur::find_in(&ok.output_document("a", "B", "urn:x")).unwrap(),
            ok
        );
    }

    #[test]
    fn a_missing_status_is_an_error() {
        let e = StandardRetur::find_in("<x xmlns=\"urn:oio:sagdok:3.0.0\"><StandardRetur/></x>")
            .unwrap_err();
        assert!(e.contains("StatusKode"), "{e}");
    }
}
