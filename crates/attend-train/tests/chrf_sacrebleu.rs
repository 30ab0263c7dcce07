//! attend's chrF equals sacreBLEU's chrF2 (here to 1e-9) on the cases of
//! `tests/fixtures/chrf/expected.json`, computed by the `sacrebleu` package with
//! `tests/fixtures/chrf/make_expected.py`: one and two references, short and
//! empty segments, accented letters and a no-break space.

use std::path::PathBuf;

use attend_train::tasks::translate::chrf::corpus_chrf;

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

#[test]
fn matches_sacrebleu_on_fixture() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/chrf/expected.json");
    let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut checked = 0;
    for (name, case) in expected.as_object().unwrap() {
        if name == "sacrebleu_version" {
            continue;
        }
        let hyps = strings(&case["hyp"]);
        // sacreBLEU takes reference streams; attend takes each hypothesis's references.
        let streams: Vec<Vec<String>> = case["refs"].as_array().unwrap().iter().map(strings).collect();
        let refs: Vec<Vec<String>> = (0..hyps.len()).map(|i| streams.iter().map(|s| s[i].clone()).collect()).collect();
        let got = corpus_chrf(&hyps, &refs).score;
        let want = case["score"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9, "{name}: attend {got}, sacrebleu {want}");
        checked += 1;
    }
    assert_eq!(checked, 6);
}
