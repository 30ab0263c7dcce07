//! attend's BLEU, cased and lowercased, equals sacreBLEU's (to 2 decimals, here to 1e-6) on the fixture
//! corpus in `tests/fixtures/bleu`, whose expected numbers come from the
//! `sacrebleu` package via `tests/fixtures/bleu/make_expected.py`.

use std::path::PathBuf;

use attend_train::tasks::translate::bleu::{corpus_bleu, corpus_bleu_lowercase};

fn fixture(name: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/bleu");
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn lines(name: &str) -> Vec<String> {
    let text = fixture(name);
    let mut v: Vec<String> = text.split('\n').map(String::from).collect();
    v.pop();
    v
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

#[test]
fn matches_sacrebleu_on_fixture() {
    let expected: serde_json::Value = serde_json::from_str(&fixture("expected.json")).unwrap();
    let (hyp, r1, r2) = (lines("hyp.txt"), lines("ref.txt"), lines("ref2.txt"));

    let single: Vec<Vec<String>> = r1.iter().map(|r| vec![r.clone()]).collect();
    let b = corpus_bleu(&hyp, &single);
    let e = &expected["single_ref"];
    assert_eq!(b.sys_len as u64, e["sys_len"].as_u64().unwrap());
    assert_eq!(b.ref_len as u64, e["ref_len"].as_u64().unwrap());
    let counts: Vec<u64> = b.counts.iter().map(|&c| c as u64).collect();
    let want: Vec<u64> = e["counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).collect();
    assert_eq!(counts, want);
    assert!((b.score - e["score"].as_f64().unwrap()).abs() < 1e-6, "{} vs {}", b.score, e["score"]);

    let two: Vec<Vec<String>> = r1.iter().zip(&r2).map(|(a, b)| vec![a.clone(), b.clone()]).collect();
    let b = corpus_bleu(&hyp, &two);
    let e = &expected["two_refs"];
    assert_eq!(b.ref_len as u64, e["ref_len"].as_u64().unwrap());
    assert!((b.score - e["score"].as_f64().unwrap()).abs() < 1e-6, "{} vs {}", b.score, e["score"]);

    let b = corpus_bleu(&hyp[..4], &single[..4]);
    assert!((b.score - expected["first_four_single_ref"]["score"].as_f64().unwrap()).abs() < 1e-6);

    // sacreBLEU's lowercase=True (case:lc), with one and two references.
    for (name, refs) in [("single_ref_lowercase", &single), ("two_refs_lowercase", &two)] {
        let b = corpus_bleu_lowercase(&hyp, refs);
        let e = &expected[name];
        let counts: Vec<u64> = b.counts.iter().map(|&c| c as u64).collect();
        let want: Vec<u64> = e["counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).collect();
        assert_eq!(counts, want, "{name}");
        assert!((b.score - e["score"].as_f64().unwrap()).abs() < 1e-6, "{name}: {} vs {}", b.score, e["score"]);
    }

    for case in ["short", "no_match"] {
        let e = &expected[case];
        let refs: Vec<Vec<String>> = strings(&e["ref"]).into_iter().map(|r| vec![r]).collect();
        let b = corpus_bleu(&strings(&e["hyp"]), &refs);
        assert!((b.score - e["score"].as_f64().unwrap()).abs() < 1e-6, "{case}: {} vs {}", b.score, e["score"]);
    }
}
