//! OIO Basic Privilege Profile (OIO-BPP) privilege lists.
//!
//! The STS puts the caller's privileges into the assertion attribute
//! `dk:gov:saml:attribute:Privileges_intermediate` as base64 of an OIO-BPP document. The shape
//! follows the decoded attribute of the example in
//! `../shared/specs/sf1514-sts/signed-request-with-issued-assertion.example.xml`:
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?><bpp:PrivilegeList
//!   xmlns:bpp="http://itst.dk/oiosaml/basic_privilege_profile"
//!   xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><PrivilegeGroup
//!   Scope="urn:dk:gov:saml:cvrNumberIdentifier:99999999"><Privilege>http://…/roles/…/1</Privilege
//!   ></PrivilegeGroup></bpp:PrivilegeList>
//! ```
//!
//! `PrivilegeGroup`, `Privilege` and `Constraint` are unqualified (no namespace), as in the
//! example. Data constraints (KLE, følsomhed, organisation …) are `Constraint Name="…"`
//! children of the group; they are written after the privileges. The example carries no
//! constraints, so their placement follows the OIO-BPP profile, not a local fixture.

use base64::Engine;

use crate::xml::{self, Limits, XmlError, ns};

/// Data constraint names (KOMBIT adgangsstyring). These URIs are not in the local specs
/// (`../shared/specs/sf1514-sts/`); they follow KOMBIT's documentation as we understand it
/// and must be checked against a real token before relying on them.
pub mod constraint {
    /// KLE (Kommunernes Landsforenings Emnesystematik) classification.
    pub const KLE: &str = "http://sts.kombit.dk/constraints/kle/1";
    /// Følsomhed (sensitivity) of the data.
    pub const FOELSOMHED: &str = "http://sts.kombit.dk/constraints/foelsomhed/1";
    /// Organisation (enhed) the data belongs to.
    pub const ORGANISATION: &str = "http://sts.kombit.dk/constraints/org/1";
}

/// The scope URN of a privilege group for a myndighed's CVR number.
pub fn cvr_scope(cvr: &str) -> String {
    format!("urn:dk:gov:saml:cvrNumberIdentifier:{cvr}")
}

/// A data constraint on a group of privileges.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Constraint {
    /// Constraint name (URI), e.g. [`constraint::KLE`].
    pub name: String,
    /// Constraint value, e.g. `25.*` for a KLE range.
    pub value: String,
}

/// A privilege (a role's entity ID / URL) with the data constraints it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Privilege {
    /// The privilege (role) URI.
    pub role: String,
    /// Data constraints.
    pub constraints: Vec<Constraint>,
}

/// One `PrivilegeGroup`: privileges sharing a scope and the same constraints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivilegeGroup {
    /// The `Scope` attribute (see [`cvr_scope`]).
    pub scope: String,
    /// The constraints that apply to every privilege of the group.
    pub constraints: Vec<Constraint>,
    /// The privilege URIs.
    pub privileges: Vec<String>,
}

/// A `bpp:PrivilegeList`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrivilegeList {
    /// The groups, in document order.
    pub groups: Vec<PrivilegeGroup>,
}

impl PrivilegeList {
    /// Builds the list for a myndighed: privileges with the same (sorted) constraints share a
    /// group, groups in order of first appearance.
    pub fn for_cvr(cvr: &str, privileges: &[Privilege]) -> Self {
        let scope = cvr_scope(cvr);
        let mut groups: Vec<PrivilegeGroup> = Vec::new();
        for p in privileges {
            let mut constraints = p.constraints.clone();
            constraints.sort();
            constraints.dedup();
            match groups.iter_mut().find(|g| g.constraints == constraints) {
                Some(g) => {
                    if !g.privileges.contains(&p.role) {
                        g.privileges.push(p.role.clone());
                    }
                }
                None => groups.push(PrivilegeGroup {
                    scope: scope.clone(),
                    constraints,
                    privileges: vec![p.role.clone()],
                }),
            }
        }
        PrivilegeList { groups }
    }

    /// The privileges that apply within the scope of `cvr`, with their constraints.
    pub fn privileges_for(&self, cvr: &str) -> Vec<Privilege> {
        let scope = cvr_scope(cvr);
        self.groups
            .iter()
            .filter(|g| g.scope == scope)
            .flat_map(|g| {
                g.privileges.iter().map(|role| Privilege {
                    role: role.clone(),
                    constraints: g.constraints.clone(),
                })
            })
            .collect()
    }

    /// The XML document (with XML declaration), in the example's compact form.
    pub fn to_xml(&self) -> String {
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><bpp:PrivilegeList xmlns:bpp=\"",
        );
        out.push_str(ns::BPP);
        out.push_str("\" xmlns:xsi=\"");
        out.push_str(ns::XSI);
        out.push_str("\">");
        for g in &self.groups {
            out.push_str("<PrivilegeGroup Scope=\"");
            out.push_str(&xml::escape_attr(&g.scope));
            out.push_str("\">");
            for p in &g.privileges {
                out.push_str("<Privilege>");
                out.push_str(&xml::escape_text(p));
                out.push_str("</Privilege>");
            }
            for c in &g.constraints {
                out.push_str("<Constraint Name=\"");
                out.push_str(&xml::escape_attr(&c.name));
                out.push_str("\">");
                out.push_str(&xml::escape_text(&c.value));
                out.push_str("</Constraint>");
            }
            out.push_str("</PrivilegeGroup>");
        }
        out.push_str("</bpp:PrivilegeList>");
        out
    }

    /// Base64 of [`PrivilegeList::to_xml`]: the value of `Privileges_intermediate`.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.to_xml())
    }

    /// Parses a privilege list document.
    pub fn parse(text: &str) -> Result<Self, XmlError> {
        let doc = xml::parse(text, Limits::default())?;
        let root = doc.root_element();
        if !xml::is(root, ns::BPP, "PrivilegeList") {
            return Err(XmlError::Missing(xml::qname(ns::BPP, "PrivilegeList")));
        }
        let mut groups = Vec::new();
        for g in root.children().filter(|n| n.is_element()) {
            if g.tag_name().name() != "PrivilegeGroup" || g.tag_name().namespace().is_some() {
                return Err(XmlError::invalid(
                    "PrivilegeList",
                    format!("unexpected element {:?}", g.tag_name()),
                ));
            }
            let scope = g
                .attribute("Scope")
                .ok_or_else(|| XmlError::invalid("PrivilegeGroup", "missing Scope"))?
                .to_owned();
            let mut privileges = Vec::new();
            let mut constraints = Vec::new();
            for c in g.children().filter(|n| n.is_element()) {
                match (c.tag_name().namespace(), c.tag_name().name()) {
                    (None, "Privilege") => privileges.push(xml::text(c)),
                    (None, "Constraint") => constraints.push(Constraint {
                        name: c
                            .attribute("Name")
                            .ok_or_else(|| XmlError::invalid("Constraint", "missing Name"))?
                            .to_owned(),
                        value: xml::text(c),
                    }),
                    _ => {
                        return Err(XmlError::invalid(
                            "PrivilegeGroup",
                            format!("unexpected element {:?}", c.tag_name()),
                        ));
                    }
                }
            }
            groups.push(PrivilegeGroup {
                scope,
                constraints,
                privileges,
            });
        }
        Ok(PrivilegeList { groups })
    }

    /// Parses the base64 value of `Privileges_intermediate`.
    pub fn from_base64(b64: &str) -> Result<Self, XmlError> {
        let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| XmlError::invalid("Privileges_intermediate", e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)?;
        Self::parse(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The attribute value of the KOMBIT example (see module docs).
    const EXAMPLE_B64: &str = "PD94bWwgdmVyc2lvbj0iMS4wIiBlbmNvZGluZz0iVVRGLTgiPz48YnBwOlByaXZpbGVnZUxpc3QgeG1sbnM6YnBwPSJodHRwOi8vaXRzdC5kay9vaW9zYW1sL2Jhc2ljX3ByaXZpbGVnZV9wcm9maWxlIiB4bWxuczp4c2k9Imh0dHA6Ly93d3cudzMub3JnLzIwMDEvWE1MU2NoZW1hLWluc3RhbmNlIj48UHJpdmlsZWdlR3JvdXAgU2NvcGU9InVybjpkazpnb3Y6c2FtbDpjdnJOdW1iZXJJZGVudGlmaWVyOjk5OTk5OTk5Ij48UHJpdmlsZWdlPmh0dHA6Ly9zZXJ2aWNlcGxhdGZvcm1lbi5zZXJ2aWNlcGxhdGZvcm1lbi5kay9yb2xlcy9zZXJ2aWNlc3lzdGVtcm9sZS9kdW1teS8xPC9Qcml2aWxlZ2U+PC9Qcml2aWxlZ2VHcm91cD48L2JwcDpQcml2aWxlZ2VMaXN0Pg==";
    const DUMMY_ROLE: &str =
        "http://serviceplatformen.serviceplatformen.dk/roles/servicesystemrole/dummy/1";

    #[test]
    fn reproduces_the_kombit_example_byte_for_byte() {
        let list = PrivilegeList::for_cvr(
            "99999999",
            &[Privilege {
                role: DUMMY_ROLE.into(),
                constraints: vec![],
            }],
        );
        assert_eq!(list.to_base64(), EXAMPLE_B64);
        assert_eq!(PrivilegeList::from_base64(EXAMPLE_B64).unwrap(), list);
    }

    #[test]
    fn groups_by_constraints_and_round_trips() {
        let kle = Constraint {
            name: constraint::KLE.into(),
            value: "25.*".into(),
        };
        let list = PrivilegeList::for_cvr(
            "12345678",
            &[
                Privilege {
                    role: "urn:a".into(),
                    constraints: vec![kle.clone()],
                },
                Privilege {
                    role: "urn:b".into(),
                    constraints: vec![],
                },
                Privilege {
                    role: "urn:c".into(),
                    constraints: vec![kle.clone()],
                },
            ],
        );
        assert_eq!(list.groups.len(), 2);
        assert_eq!(list.groups[0].privileges, vec!["urn:a", "urn:c"]);
        let back = PrivilegeList::parse(&list.to_xml()).unwrap();
        assert_eq!(back, list);
        let for_cvr = back.privileges_for("12345678");
        assert_eq!(for_cvr.len(), 3);
        assert!(back.privileges_for("87654321").is_empty());
    }

    #[test]
    fn refuses_foreign_elements() {
        let bad = format!(
            "<bpp:PrivilegeList xmlns:bpp=\"{}\"><Other/></bpp:PrivilegeList>",
            ns::BPP
        );
        assert!(PrivilegeList::parse(&bad).is_err());
    }
}
