//! Concurrent writers: each write is one transaction on a locked object.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::fixtures::*;
use crate::harness::*;

fn names(regs: &[Value]) -> Vec<String> {
    regs.iter()
        .map(|r| {
            attr(r, "organisationenhedegenskaber")[0]["enhedsnavn"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Concurrent PATCHes of one object all succeed and form one chain of registreringer.
async fn concurrent_patches_serialise(s: &Srv) {
    const N: usize = 8;
    let u = s.create(ENHED, &enhed("kon", "start")).await;
    let writes = (0..N).map(|i| async move {
        s.patch(ENHED, u, &navn_patch(&format!("n{i}"), START, INF))
            .await
    });
    for r in futures_join_all(writes).await {
        r.expect(200);
    }
    let hist = s.history(ENHED, u).await;
    assert_eq!(hist.len(), N + 1);
    let got: BTreeSet<String> = names(&hist[..N]).into_iter().collect();
    let want: BTreeSet<String> = (0..N).map(|i| format!("n{i}")).collect();
    assert_eq!(got, want, "every write is one registrering");
    for pair in hist.windows(2) {
        assert_eq!(
            pair[1]["tiltidspunkt"]["tidsstempeldatotid"],
            pair[0]["fratidspunkt"]["tidsstempeldatotid"]
        );
    }
    assert_eq!(names(&[s.reg(ENHED, u, &[]).await])[0], names(&hist)[0]);
}
both!(concurrent_patches_serialise);

/// Concurrent creates of distinct objects all succeed.
async fn concurrent_creates(s: &Srv) {
    let writes = (0..10).map(|i| async move {
        s.post(&format!("/{ENHED}"), &enhed(&format!("par{i:02}"), "x"))
            .await
    });
    for r in futures_join_all(writes).await {
        r.expect(201);
    }
    assert_eq!(s.search(ENHED, &[("bvn", "par%")]).await.len(), 10);
}
both!(concurrent_creates);

/// Concurrent PUTs of one new UUID: one creates (Importeret), the others overwrite (Rettet).
async fn concurrent_imports_of_a_new_uuid(s: &Srv) {
    let u = uuid::Uuid::new_v4();
    let writes =
        (0..4).map(|i| async move { s.import(ENHED, u, &enhed(&format!("imp{i}"), "x")).await });
    let answers: Vec<(u16, String)> = futures_join_all(writes)
        .await
        .into_iter()
        .map(|r| (r.status, r.text))
        .collect();
    assert!(
        answers.iter().all(|(st, _)| *st == 200),
        "every PUT succeeds: {answers:?}"
    );
    let hist = s.history(ENHED, u).await;
    let codes: Vec<&str> = hist
        .iter()
        .map(|r| r["livscykluskode"].as_str().unwrap())
        .collect();
    assert_eq!(codes.last(), Some(&"Importeret"));
    assert!(
        codes[..codes.len() - 1].iter().all(|c| *c == "Rettet"),
        "{codes:?}"
    );
}
both!(concurrent_imports_of_a_new_uuid);

/// `join_all` without the futures crate: run the futures concurrently on this task.
async fn futures_join_all<F: std::future::Future>(
    futs: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.expect("ready")).collect()
}
