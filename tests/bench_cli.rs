//! `attend bench` driven as a user would: two quick rows, the table and the
//! JSON lines, cached and re-reading decoding agreeing on every token, and an
//! unknown row refused by name.

mod common;

use common::{run, tmp_dir};

#[test]
fn bench_prints_rows_and_json_lines() {
    let dir = tmp_dir("bench");
    let json = dir.join("rows.jsonl");
    let j = json.to_str().unwrap();
    let args = ["bench", "--rows", "decode-tiny/batch1-cached,transformer-tiny/forward", "--repeat-scale", "0.1", "--json", j];
    let (code, stdout, err) = run(&args);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{err}");
    assert!(stdout.contains("fp32 peak measured on 1 core(s)"), "{stdout}");
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&json).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r["row"].as_str().unwrap()).collect();
    assert_eq!(names, ["transformer-tiny/forward", "decode-tiny/batch1-cached"]);
    for r in &rows {
        assert!(r["value"].as_f64().unwrap() > 0.0 && r["gflops"].as_f64().unwrap() > 0.0, "{r}");
        let frac = r["peak_fraction"].as_f64().unwrap();
        assert!(frac > 0.0 && frac < 1.0, "{r}");
        assert!(stdout.lines().any(|l| l.starts_with(r["row"].as_str().unwrap())), "{stdout}");
    }
    let note = rows[1]["note"].as_str().unwrap();
    assert!(note.contains("agree on 1.0000 of the tokens"), "{note}");
}

#[test]
fn an_unknown_row_is_refused_by_name() {
    let (code, _, err) = run(&["bench", "--rows", "transformer-huge"]);
    assert_ne!(code, 0);
    assert!(err.contains("--rows transformer-huge"), "{err}");
    let (code, _, err) = run(&["bench", "--rows", "decode-tiny/batch2-cached"]);
    assert_ne!(code, 0);
    assert!(err.contains("--rows decode-tiny/batch2-cached") && err.contains("batch1-cached"), "{err}");
}
