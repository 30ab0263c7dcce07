//! Tests of the corpus reader that feeds the workers.

use super::*;

#[test]
fn jobs_alternate_between_parts_and_carry_each_parts_progress() {
    let dir = std::env::temp_dir().join(format!("attend-w2v-parts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text: String = (0..40).map(|p| (0..50).map(|w| format!("p{p}w{w} ")).collect::<String>() + "\n\n").collect();
    let files = vec![dir.join("c.txt")];
    std::fs::write(&files[0], text).unwrap();
    let counts = WordCounts::count(&files, 1).unwrap();
    let c = counts.total_tokens;
    assert_eq!(c, 2000);
    let cfg = Word2VecConfig::new().with_job_words(300).with_streams(2);
    let parts = counts.split(2);
    let (tx, rx) = sync_channel(100);
    let start = EpochStart { epoch: 1, first_job: 0, skip: 0 };
    let sent = AtomicU64::new(0);
    let (n, complete) = read_epoch(&files, &parts, &counts.index(), &cfg, c, start, tx, &|| false, &sent).unwrap();
    let jobs: Vec<Job> = rx.iter().collect();
    assert!(complete && n as usize == jobs.len());
    assert_eq!(jobs.iter().map(|j| j.raw).sum::<u64>(), c, "every word once");
    // Jobs alternate: the first two start their parts, at the epoch's start.
    assert_eq!((jobs[0].part_before, jobs[1].part_before), (c, c));
    assert_eq!((jobs[0].before, jobs[1].before), (c, c + jobs[0].raw));
    assert_eq!(jobs[0].words[0], counts.index()["p0w0"]);
    let second = format!("p{}w0", parts[0].1 / 50);
    assert_eq!(jobs[1].words[0], counts.index()[second.as_str()], "the second part starts where the first ends");
    // Each part's progress runs to its own length only, about half the corpus.
    let longest = jobs.iter().map(|j| j.part_before + j.raw - c).max().unwrap();
    assert_eq!(longest, parts.iter().map(|p| p.1).max().unwrap());
    assert!(longest <= 1200, "parts of {parts:?}");
    // With part_decay the rate at the epoch's end is the one half-way through it.
    let end = jobs.iter().max_by_key(|j| j.part_before).unwrap();
    let total = c * 5;
    let (plain, part) = (end.alpha(&cfg, total), end.alpha(&cfg.clone().with_part_decay(true), total));
    assert!(part > plain, "{part} vs {plain}");
    std::fs::remove_dir_all(&dir).unwrap();
}
