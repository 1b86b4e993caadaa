//! Paging (contract §4.5): sorted by brugervendtnoegle (case-insensitively), then UUID; stable.

use uuid::Uuid;

use crate::fixtures::*;
use crate::harness::*;

async fn page(s: &Srv, offset: Option<usize>, limit: Option<usize>) -> Vec<Uuid> {
    let mut raw = "bvn=p%25".to_owned();
    if let Some(o) = offset {
        raw.push_str(&format!("&foersteresultat={o}"));
    }
    if let Some(l) = limit {
        raw.push_str(&format!("&maximalantalresultater={l}"));
    }
    s.search_raw(ENHED, &raw).await
}

async fn paging_is_stable(s: &Srv) {
    const N: usize = 27;
    let mut created: Vec<(String, Uuid)> = Vec::new();
    // Created in a shuffled order (7 is coprime to 27), some in upper case.
    for i in 0..N {
        let k = (i * 7) % N;
        let bvn = if matches!(k % 5, 0) {
            format!("P{k:02}")
        } else {
            format!("p{k:02}")
        };
        let u = s.create(ENHED, &enhed(&bvn, "side")).await;
        created.push((bvn.to_lowercase(), u));
    }
    // A second object with an existing bvn: the tie is broken by UUID.
    let dup = s.create(ENHED, &enhed("p13", "dublet")).await;
    created.push(("p13".into(), dup));
    // Objects outside the pattern.
    let other = s.create(ENHED, &enhed("q-andet", "x")).await;
    s.create(ENHED, &enhed("andet", "x")).await;
    created.sort();
    let want: Vec<Uuid> = created.iter().map(|c| c.1).collect();

    let mut all = s.search_raw(ENHED, "bvn=p%25").await;
    all.sort();
    let mut want_set = want.clone();
    want_set.sort();
    assert_eq!(all, want_set);

    let p1 = page(s, Some(0), Some(10)).await;
    let p2 = page(s, Some(10), Some(10)).await;
    let p3 = page(s, Some(20), Some(10)).await;
    assert_eq!((p1.len(), p2.len(), p3.len()), (10, 10, 8));
    let concat: Vec<Uuid> = [p1.clone(), p2.clone(), p3.clone()].concat();
    assert_eq!(concat, want, "pages in bvn, uuid order");

    // Repeated identical requests answer identically.
    for _ in 0..3 {
        assert_eq!(page(s, Some(10), Some(10)).await, p2);
    }
    // Offset alone, limit alone, past the end, limit 0.
    assert_eq!(page(s, None, Some(5)).await, want[..5]);
    assert_eq!(page(s, Some(0), Some(5)).await, want[..5]);
    assert_eq!(page(s, Some(25), None).await, want[25..]);
    assert_eq!(page(s, Some(100), Some(10)).await, NONE);
    assert_eq!(page(s, Some(3), Some(0)).await, NONE);

    // Concurrent updates of an unrelated object, and of a paged object's other fields, do not
    // disturb the pages.
    for i in 0..4 {
        let navn = format!("ændret {i}");
        let change = navn_patch(&navn, START, INF);
        let (got, ()) = tokio::join!(page(s, Some(10), Some(10)), async {
            s.ret(ENHED, other, &change).await;
        });
        assert_eq!(got, p2, "during update {i}");
        let (got, ()) = tokio::join!(page(s, Some(0), Some(10)), async {
            s.ret(ENHED, want[3], &change).await;
        });
        assert_eq!(got, p1, "during update {i} of a paged object");
    }
    assert_eq!(
        [
            page(s, Some(0), Some(10)).await,
            page(s, Some(10), Some(10)).await,
            page(s, Some(20), Some(10)).await
        ]
        .concat(),
        want
    );
}
both!(paging_is_stable);

/// Paging uses the bvn valid in the search window.
async fn paging_follows_the_window(s: &Srv) {
    let a = s.create(ENHED, &enhed("pa", "A")).await;
    let b = s.create(ENHED, &enhed("pb", "B")).await;
    // From 2030, b sorts first.
    s.ret(
        ENHED,
        b,
        &serde_json::json!({"attributter": {"organisationenhedegenskaber": [
            {"brugervendtnoegle": "p0", "virkning": v("2030-01-01", INF)}]}}),
    )
    .await;
    assert_eq!(
        s.search_raw(ENHED, "bvn=p%25&maximalantalresultater=10")
            .await,
        [a, b]
    );
    assert_eq!(
        s.search_raw(
            ENHED,
            "bvn=p%25&maximalantalresultater=10&virkningstid=2031-01-01"
        )
        .await,
        [b, a]
    );
    assert_eq!(
        s.search_raw(
            ENHED,
            "bvn=p%25&foersteresultat=1&maximalantalresultater=1&virkningstid=2031-01-01"
        )
        .await,
        [a]
    );
}
both!(paging_follows_the_window);
