//! The reading chain of a SOAP request, as one function over raw bytes, for fuzzing: the cargo-fuzz
//! target `fuzz/fuzz_targets/organisation_soap.rs` and the bounded property test
//! `tests/fuzz_props.rs` both call [`laes_alt`], so they exercise exactly what the server runs:
//! `fki_sts::xml::as_text` + `parse` (size, depth and entity limits), the Body's operation
//! element read by [`crate::forespoergsel::laes`] for every object type of its namespace and by
//! [`crate::system::laes`] for every hierarchy service of it, then the engine's own parsers
//! (`json::parse_write` for writes, `query::parse_read` / `parse_class_query` for reads and
//! searches).
//!
//! The contract under test: nothing panics, and every refusal carries a text.

use fki_oio::json::{Mode, parse_write};
use fki_oio::query::{parse_class_query, parse_read};
use fki_oio::store::Scope;
use fki_sts::xml::{self, Limits};

use crate::forespoergsel::{self, Operation};
use crate::system::{self, SYSTEMER, SystemOperation};
use crate::typer;

const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";

/// Run `data` through the chain. `Ok(n)`: `n` steps answered `Ok` (parse, read as an operation,
/// accepted by the engine's parser: 3 for a valid object-service request). `Err` only for a
/// refusal without a text, which is a bug.
pub fn laes_alt(data: &[u8]) -> Result<usize, String> {
    let mut ok = 0;
    let limits = Limits::default();
    let refusal = |what: &str, text: String| {
        if text.trim().is_empty() {
            Err(format!("{what}: a refusal without a text"))
        } else {
            Ok(())
        }
    };
    let text = match xml::as_text(data, limits) {
        Ok(t) => t,
        Err(e) => return refusal("as_text", e.to_string()).map(|_| ok),
    };
    let doc = match xml::parse(text, limits) {
        Ok(d) => d,
        Err(e) => return refusal("parse", e.to_string()).map(|_| ok),
    };
    ok += 1;
    let root = doc.root_element();
    // A whole envelope: its Body's first element, as the server reads it; else the element.
    let op = if xml::is(root, SOAP11, "Envelope") || xml::is(root, SOAP12, "Envelope") {
        let ns = root.tag_name().namespace().unwrap_or_default();
        match root
            .children()
            .find(|n| xml::is(*n, ns, "Body"))
            .and_then(|b| b.first_element_child())
        {
            Some(op) => op,
            None => return Ok(ok),
        }
    } else {
        root
    };
    let ns = op.tag_name().namespace();
    for typ in typer::alle().iter().filter(|t| ns == Some(t.ns)) {
        let spec = typ.spec();
        let operation = match forespoergsel::laes(typ, op) {
            Ok(o) => o,
            Err(f) => {
                refusal("laes", f.tekst)?;
                continue;
            }
        };
        ok += 1;
        let step = match operation {
            Operation::Opret(json) | Operation::Importer(_, json) => {
                parse_write(spec, &json, Mode::Create).map(|_| ())
            }
            Operation::Ret(_, json) => parse_write(spec, &json, Mode::Update).map(|_| ()),
            Operation::Laes { tid, .. } | Operation::List { tid, .. } => {
                parse_read(&tid).map(|_| ())
            }
            Operation::Soeg(pairs) => parse_class_query(spec, &pairs, Scope::All).map(|_| ()),
            Operation::Passiver { .. } | Operation::Slet { .. } => Ok(()),
        };
        match step {
            Ok(()) => ok += 1,
            Err(e) => refusal(typ.element, e.to_string())?,
        }
    }
    for sys in SYSTEMER.iter().filter(|s| ns == Some(s.ns)) {
        match system::laes(sys, op) {
            Ok(SystemOperation::Fremsoeg(per)) => {
                ok += 1;
                for (typ, pairs) in per {
                    if let Err(e) = parse_class_query(typ.spec(), &pairs, Scope::All) {
                        refusal(sys.navn, e.to_string())?;
                    }
                }
            }
            Ok(SystemOperation::Importer(objekter)) => {
                ok += 1;
                for (typ, _, json) in objekter {
                    if let Err(e) = parse_write(typ.spec(), &json, Mode::Create) {
                        refusal(sys.navn, e.to_string())?;
                    }
                }
            }
            Ok(SystemOperation::Anonymiser(_) | SystemOperation::FysiskSlet { .. }) => ok += 1,
            Err(f) => refusal(sys.navn, f.tekst)?,
        }
    }
    Ok(ok)
}
