//! A stored message handed on without being parsed again.
//!
//! The Beskedfordeler stores each accepted message as [`Haendelsesbesked::to_xml`] wrote it and
//! adds its own hop to `Leveranceinformation/Leveranceruter` on every delivery (push, pull,
//! AMQP). Parsing the stored text into a [`Haendelsesbesked`] and writing it again only to add
//! one element cost more than anything else a push does; [`GemtBesked`] instead finds the place
//! of the new `Leverancerute` by reading tags only, and splices it in.
//!
//! The result is the same text, byte for byte, as parsing, adding the hop
//! ([`Haendelsesbesked::tilfoej_leverancerute`]) and writing ([`Haendelsesbesked::to_xml`],
//! [`Haendelsesbesked::modtag_besked_input`]) would give, for any text `to_xml` wrote (tested
//! in `tests/gemt.rs`). Text that does not start the way `to_xml` starts, or whose envelope is
//! not laid out as `to_xml` lays it out, is not recognised ([`GemtBesked::find`] answers
//! `None`) and the caller parses it.
//!
//! The envelope's layout (`Beskedkuvert.xsd`,
//! `../shared/specs/sf1460-beskedfordeler/xsd/Beskedkuvert.xsd`): `Leveranceinformation` is the
//! second child of `Beskedkuvert`, the first child of the root; within it `Leveranceruter`
//! comes after the six fixed elements and before `LeveranceinformationLokalUdvidelse`.

use crate::kuvert::{
    Haendelsesbesked, Leverancerute, NS_KUVERT, NS_SAGDOK, NS_STS, XML_DECL, leverancerute_xml,
};

/// The text after the root start tag [`Haendelsesbesked::to_xml`] writes
/// (`<ns2:Haendelsesbesked xmlns="…sagdok…" xmlns:ns2="…kuvert…">`), if `xml` starts with it.
fn efter_rod_tag(xml: &str) -> Option<&str> {
    xml.strip_prefix("<ns2:Haendelsesbesked xmlns=\"")?
        .strip_prefix(NS_SAGDOK)?
        .strip_prefix("\" xmlns:ns2=\"")?
        .strip_prefix(NS_KUVERT)?
        .strip_prefix("\">")
}

/// The children of `Leveranceinformation` that precede `Leveranceruter`, as written.
const FOER_RUTER: [&str; 6] = [
    "ns2:Dannelsestidspunkt",
    "ns2:TransaktionsId",
    "ns2:Kildesystem",
    "ns2:KildesystemIPAdresse",
    "ns2:KildesystemAkkreditiver",
    "ns2:Sikkerhedsklassificering",
];

/// A message as [`Haendelsesbesked::to_xml`] wrote it, with the place its next
/// `Leverancerute` goes.
#[derive(Debug, Clone, Copy)]
pub struct GemtBesked<'a> {
    xml: &'a str,
    /// Byte offset of the text after the root start tag.
    indhold: usize,
    /// Byte offset where the new hop goes.
    indsaet: usize,
    /// Whether a `Leveranceruter` element is there (else the hop comes wrapped in one).
    har_ruter: bool,
}

impl<'a> GemtBesked<'a> {
    /// The place of the next hop in `xml`, or `None` when `xml` is not laid out as
    /// [`Haendelsesbesked::to_xml`] writes (then parse it).
    pub fn find(xml: &'a str) -> Option<Self> {
        let indhold = xml.len() - efter_rod_tag(xml.strip_prefix(XML_DECL)?)?.len();
        let (indsaet, har_ruter) = find_plads(xml, indhold)?;
        Some(GemtBesked {
            xml,
            indhold,
            indsaet,
            har_ruter,
        })
    }

    /// The standalone document with `rute` added: [`Haendelsesbesked::to_xml`] of the message
    /// after [`Haendelsesbesked::tilfoej_leverancerute`].
    pub fn to_xml_med(&self, rute: &Leverancerute) -> String {
        let mut ud = String::with_capacity(self.xml.len() + 512);
        self.skriv(&mut ud, 0, rute);
        ud
    }

    /// A push delivery with `rute` added: [`Haendelsesbesked::modtag_besked_input`] of the
    /// message after [`Haendelsesbesked::tilfoej_leverancerute`].
    pub fn modtag_besked_input_med(&self, rute: &Leverancerute) -> String {
        let mut ud = String::with_capacity(self.xml.len() + 640);
        ud.push_str(XML_DECL);
        ud.push_str("<ns4:ModtagBeskedInput xmlns=\"");
        ud.push_str(NS_SAGDOK);
        ud.push_str("\" xmlns:ns2=\"");
        ud.push_str(NS_KUVERT);
        ud.push_str("\" xmlns:ns4=\"");
        ud.push_str(NS_STS);
        ud.push_str("\"><ns2:Haendelsesbesked>");
        self.skriv(&mut ud, self.indhold, rute);
        ud.push_str("</ns4:ModtagBeskedInput>");
        ud
    }

    /// The stored text from `fra`, with `rute` spliced in.
    fn skriv(&self, ud: &mut String, fra: usize, rute: &Leverancerute) {
        ud.push_str(&self.xml[fra..self.indsaet]);
        if !self.har_ruter {
            ud.push_str("<ns2:Leveranceruter>");
        }
        ud.push_str(&leverancerute_xml(rute));
        if !self.har_ruter {
            ud.push_str("</ns2:Leveranceruter>");
        }
        ud.push_str(&self.xml[self.indsaet..]);
    }
}

/// `to_xml` of `xml` (a stored message) with `rute` added: spliced where [`GemtBesked::find`]
/// recognises the text, else parsed and written.
pub fn med_leverancerute(
    xml: &str,
    rute: Leverancerute,
) -> Result<String, crate::kuvert::BeskedFejl> {
    med_rute(xml, rute, |g, r| g.to_xml_med(r), Haendelsesbesked::to_xml)
}

/// [`Haendelsesbesked::modtag_besked_input`] of `xml` (a stored message) with `rute` added:
/// spliced where [`GemtBesked::find`] recognises the text, else parsed and written.
pub fn modtag_besked_input_med_leverancerute(
    xml: &str,
    rute: Leverancerute,
) -> Result<String, crate::kuvert::BeskedFejl> {
    med_rute(
        xml,
        rute,
        |g, r| g.modtag_besked_input_med(r),
        Haendelsesbesked::modtag_besked_input,
    )
}

/// `xml` with `rute` added, `splejset` where [`GemtBesked::find`] recognises the text, else
/// parsed and `skrevet`.
fn med_rute(
    xml: &str,
    rute: Leverancerute,
    splejset: impl FnOnce(&GemtBesked<'_>, &Leverancerute) -> String,
    skrevet: impl FnOnce(&Haendelsesbesked) -> String,
) -> Result<String, crate::kuvert::BeskedFejl> {
    match GemtBesked::find(xml) {
        Some(g) => Ok(splejset(&g, &rute)),
        None => {
            let mut h = Haendelsesbesked::parse(xml)?;
            h.tilfoej_leverancerute(rute);
            Ok(skrevet(&h))
        }
    }
}

/// Walk the tags of `xml` from `fra` (just inside the root) to the place of the next hop:
/// before `</ns2:Leveranceruter>` (`true`), else before `LeveranceinformationLokalUdvidelse`
/// or `</ns2:Leveranceinformation>` (`false`). `None` where the text is not laid out as
/// `to_xml` writes or is not well-formed.
fn find_plads(xml: &str, fra: usize) -> Option<(usize, bool)> {
    let b = xml.as_bytes();
    // Names of the open elements below the root, while at most three deep (deeper ones are
    // counted only).
    let mut sti: Vec<&str> = Vec::with_capacity(4);
    let mut dybde = 0usize; // below the root
    let mut pos = fra;
    loop {
        let start = pos + memchr(b'<', &b[pos..])?;
        let rest = &xml[start..];
        // Markup that is not an element: skipped to its end.
        let ueden = [("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>")]
            .into_iter()
            .find_map(|(aabn, luk)| {
                let efter = rest.strip_prefix(aabn)?;
                Some(efter.find(luk).map(|i| start + aabn.len() + i + luk.len()))
            });
        if let Some(slut) = ueden {
            pos = slut?;
            continue;
        }
        if rest.starts_with("<!") {
            return None; // no DOCTYPE inside an element
        }
        if let Some(slut) = rest.strip_prefix("</") {
            let navn_len = slut.find('>')?;
            let navn = slut[..navn_len].trim_end();
            if dybde == 0 {
                return None; // the root ended before Leveranceinformation did
            }
            if dybde <= 3 {
                if sti.last() != Some(&navn) {
                    return None;
                }
                match (dybde, navn) {
                    (3, "ns2:Leveranceruter") if sti[1] == "ns2:Leveranceinformation" => {
                        return Some((start, true));
                    }
                    (2, "ns2:Leveranceinformation") if sti[0] == "ns2:Beskedkuvert" => {
                        return Some((start, false));
                    }
                    _ => {}
                }
                sti.pop();
            }
            dybde -= 1;
            pos = start + 2 + navn_len + 1;
            continue;
        }
        // A start tag: its name, then to its end past quoted attribute values.
        let navn_len = rest[1..].find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')?;
        let navn = &rest[1..1 + navn_len];
        let mut i = start + 1 + navn_len;
        let selvlukket = loop {
            match *b.get(i)? {
                q @ (b'"' | b'\'') => i += 1 + memchr(q, &b[i + 1..])? + 1,
                b'>' => {
                    i += 1;
                    break false;
                }
                b'/' if b.get(i + 1) == Some(&b'>') => {
                    i += 2;
                    break true;
                }
                _ => i += 1,
            }
        };
        // Elements of Leveranceinformation: the fixed ones, then Leveranceruter, then the
        // local extension (whatever its prefix); nothing else is expected there.
        if dybde == 2 && sti[1] == "ns2:Leveranceinformation" && sti[0] == "ns2:Beskedkuvert" {
            if navn == "ns2:Leveranceruter" {
                if selvlukket {
                    return None;
                }
            } else if navn.rsplit(':').next() == Some("LeveranceinformationLokalUdvidelse") {
                return Some((start, false));
            } else if !FOER_RUTER.contains(&navn) {
                return None;
            }
        }
        if !selvlukket {
            dybde += 1;
            if dybde <= 3 {
                sti.push(navn);
            }
        }
        pos = i;
    }
}

fn memchr(c: u8, b: &[u8]) -> Option<usize> {
    b.iter().position(|&x| x == c)
}
