//! The WSDL of an object service, written from the type table in the shape of KOMBIT's
//! (`../shared/specs/sf1500-organisation/v6/wsdl/<Type>.wsdl`): the same message, port type,
//! binding and operation names and `soapAction`s, SOAP 1.2 document/literal with the
//! `RequestHeader` in the header, and the service address set to where fki answers.
//!
//! The schemas are imported as KOMBIT's WSDLs import them, relative to the WSDL
//! (`xsd/6.0.STS-0/<Type>Operationer.xsd`, `xsd/common/RequestHeader.xsd`); fki serves them
//! there when it is given KOMBIT's schema folder (`fki serve --schema-dir`). KOMBIT's security
//! policy (`policies/OIOIDWS.wsdl`) is not repeated: the requirement it states, WS-Security with
//! a holder-of-key SAML token, is fki's too (docs/organisation.md).

use crate::typer::{NS_REQUEST_HEADER, Objekttype};

/// The operations: WSDL name, input element, the infix of the message names.
const OPERATIONER: [(&str, &str, &str); 8] = [
    ("opret", "OpretInput", "Opret"),
    ("importer", "ImportInput", "Importer"),
    ("passiver", "PassiverInput", "Passiver"),
    ("laes", "LaesInput", "Laes"),
    ("ret", "RetInput", "Ret"),
    ("slet", "SletInput", "Slet"),
    ("soeg", "SoegInput", "Soeg"),
    ("list", "ListInput", "Liste"),
];

/// The WSDL of `typ` with the service at `address` (`https://host/organisation/organisationenhed/6/`).
pub fn wsdl(typ: &Objekttype, address: &str) -> String {
    let el = typ.element;
    // v6: KOMBIT's bundle layout (`xsd/6.0.STS-0/`, `xsd/common/`); v7: the sample's flat
    // folder, served from `klasse-v7/` of the schema folder, and its target namespace.
    let (tns, operationer, header) = if typ.version >= 7 {
        (
            format!("http://stoettesystemerne.dk/{}", typ.service),
            format!("xsd/{}-v{}/{el}Operationer.xsd", typ.klasse, typ.version),
            format!("xsd/{}-v{}/RequestHeader.xsd", typ.klasse, typ.version),
        )
    } else {
        (
            format!("http://stoettesystemerne.dk/{}/6/", typ.service),
            format!("xsd/6.0.STS-0/{el}Operationer.xsd"),
            "xsd/common/RequestHeader.xsd".to_owned(),
        )
    };
    let esc = fki_sts::xml::escape_attr;
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<wsdl:definitions name=\"{el}Service\" targetNamespace=\"{tns}\" \
xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\" xmlns:tns=\"{tns}\" \
xmlns:soap12=\"http://schemas.xmlsoap.org/wsdl/soap12/\" xmlns:o=\"{ns}\" \
xmlns:header=\"{NS_REQUEST_HEADER}\">\n\
  <wsdl:types>\n    <xsd:schema xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\n\
      <xsd:import namespace=\"{ns}\" schemaLocation=\"{operationer}\"/>\n\
      <xsd:import namespace=\"{NS_REQUEST_HEADER}\" schemaLocation=\"{header}\"/>\n\
    </xsd:schema>\n  </wsdl:types>\n",
        ns = typ.ns
    );
    for (_, input, infix) in OPERATIONER {
        let output = input.replace("Input", "Output");
        for (kind, part, element) in [
            ("Request", "request", input),
            ("Response", "response", &output),
        ] {
            s.push_str(&format!(
                "  <wsdl:message name=\"{el}{infix}{kind}Message\">\n\
    <wsdl:part name=\"header\" element=\"header:RequestHeader\"/>\n\
    <wsdl:part name=\"{part}\" element=\"o:{element}\"/>\n  </wsdl:message>\n"
            ));
        }
    }
    s.push_str(&format!("  <wsdl:portType name=\"{el}PortType\">\n"));
    for (op, _, infix) in OPERATIONER {
        s.push_str(&format!(
            "    <wsdl:operation name=\"{op}\">\n\
      <wsdl:input message=\"tns:{el}{infix}RequestMessage\"/>\n\
      <wsdl:output message=\"tns:{el}{infix}ResponseMessage\"/>\n    </wsdl:operation>\n"
        ));
    }
    s.push_str("  </wsdl:portType>\n");
    s.push_str(&format!(
        "  <wsdl:binding name=\"{el}\" type=\"tns:{el}PortType\">\n\
    <soap12:binding style=\"document\" transport=\"http://schemas.xmlsoap.org/soap/http\"/>\n"
    ));
    for (op, _, infix) in OPERATIONER {
        let action = typ.soap_action(op);
        let mut io = String::new();
        for (tag, kind, part) in [
            ("input", "Request", "request"),
            ("output", "Response", "response"),
        ] {
            io.push_str(&format!(
                "      <wsdl:{tag}>\n\
        <soap12:header message=\"tns:{el}{infix}{kind}Message\" part=\"header\" use=\"literal\"/>\n\
        <soap12:body parts=\"{part}\" use=\"literal\"/>\n      </wsdl:{tag}>\n"
            ));
        }
        s.push_str(&format!(
            "    <wsdl:operation name=\"{op}\">\n\
      <soap12:operation soapAction=\"{action}\" soapActionRequired=\"false\"/>\n{io}    </wsdl:operation>\n"
        ));
    }
    s.push_str("  </wsdl:binding>\n");
    s.push_str(&format!(
        "  <wsdl:service name=\"{el}Service\">\n    <wsdl:port name=\"{el}\" binding=\"tns:{el}\">\n\
      <soap12:address location=\"{}\"/>\n    </wsdl:port>\n  </wsdl:service>\n</wsdl:definitions>\n",
        esc(address)
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::typer::ved_sti;

    #[test]
    fn the_wsdl_names_every_operation_and_the_given_address() {
        let t = ved_sti("organisation", "organisationenhed").unwrap();
        let w = wsdl(
            t,
            "https://fki.example/organisation/organisationenhed/6/?a=<b>",
        );
        let doc = roxmltree::Document::parse(&w).unwrap();
        const WSDL: &str = "http://schemas.xmlsoap.org/wsdl/";
        const SOAP12: &str = "http://schemas.xmlsoap.org/wsdl/soap12/";
        let ops: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name((WSDL, "operation")))
            .filter(|n| n.parent_element().unwrap().has_tag_name((WSDL, "binding")))
            .map(|n| n.attribute("name").unwrap())
            .collect();
        assert_eq!(
            ops,
            [
                "opret", "importer", "passiver", "laes", "ret", "slet", "soeg", "list"
            ]
        );
        let actions: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name((SOAP12, "operation")))
            .map(|n| n.attribute("soapAction").unwrap())
            .collect();
        assert_eq!(
            actions[3],
            "http://kombit.dk/sts/organisation/organisationenhed/laes"
        );
        let addr = doc
            .descendants()
            .find(|n| n.has_tag_name((SOAP12, "address")))
            .unwrap();
        assert_eq!(
            addr.attribute("location"),
            Some("https://fki.example/organisation/organisationenhed/6/?a=<b>")
        );
        // Every message part names an element of the type's namespace or the RequestHeader.
        for p in doc.descendants().filter(|n| n.has_tag_name((WSDL, "part"))) {
            let (prefix, _) = p.attribute("element").unwrap().split_once(':').unwrap();
            let ns = p.lookup_namespace_uri(Some(prefix)).unwrap();
            assert!(ns == t.ns || ns == NS_REQUEST_HEADER, "{ns}");
        }
    }

    #[test]
    fn the_v7_klasse_wsdl_has_the_v7_namespaces_and_schema_folder() {
        let t = crate::typer::alle()
            .iter()
            .find(|t| t.klasse == "klasse" && t.version == 7)
            .unwrap();
        let w = wsdl(t, "https://fki.example/klassifikation/klasse/7/");
        let doc = roxmltree::Document::parse(&w).unwrap();
        assert_eq!(
            doc.root_element().attribute("targetNamespace"),
            Some("http://stoettesystemerne.dk/klassifikation")
        );
        let imports: Vec<_> = doc
            .descendants()
            .filter_map(|n| n.attribute("schemaLocation"))
            .collect();
        assert_eq!(
            imports,
            [
                "xsd/klasse-v7/KlasseOperationer.xsd",
                "xsd/klasse-v7/RequestHeader.xsd"
            ]
        );
        assert!(w.contains("http://stoettesystemerne.dk/klassifikation/klasse/7/"));
        assert!(w.contains("http://kombit.dk/sts/klassifikation/klasse/laes"));
    }
}
