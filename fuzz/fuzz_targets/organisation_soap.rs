//! The SOAP reading chain of Organisation and Klassifikation (issue 5 item 9): any bytes
//! through `fki_organisation::kaede::laes_alt`, exactly what the server runs on a request body
//! before the engine sees it. A panic, an abort (stack overflow, out of memory) or a refusal
//! without a text is a finding.
//!
//! Seeds: `FKI_WRITE_FUZZ_SEEDS=fuzz cargo test -p fki-organisation --test fuzz_props -- --ignored`
//! writes valid requests of every type and operation to `fuzz/corpus/organisation_soap/`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = fki_organisation::kaede::laes_alt(data) {
        panic!("{e}");
    }
});
