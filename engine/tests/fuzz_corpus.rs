//! Replays the fuzz corpus (`fuzz/corpus/packet`) through the fuzz harness as an ordinary test, so every
//! input the fuzzer ever kept keeps passing.

use dhcplab_engine::fuzzing::exercise;

#[test]
fn the_fuzz_corpus_replays_cleanly() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/packet");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("fuzz corpus directory") {
        let path = entry.unwrap().path();
        exercise(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(n >= 20, "the corpus has only {n} inputs; seed it with `cargo run -p dhcplab-engine --example fuzz_seeds`");
}
