//! `doveadm-rs dump -t cache FILE`, our extension: the cache section is
//! the one real doveadm prints inside an index dump, and every chain of
//! records is printed the way real doveadm prints that message's cache
//! lines. Checked against the committed real-doveadm dumps.

mod common;

use std::collections::BTreeMap;

use common::{MailHome, doveadm_rs, fixtures_dir};

/// Each message's cache lines: in a paragraph (lines up to a blank
/// one), everything from its first " - cache offset=" line on.
fn cache_blocks(text: &str) -> BTreeMap<String, usize> {
    let mut blocks = BTreeMap::new();
    for paragraph in text.split("\n\n") {
        if let Some(at) = paragraph.find(" - cache offset=") {
            *blocks.entry(paragraph[at..].to_string()).or_default() += 1;
        }
    }
    blocks
}

#[test]
fn cache_type_prints_what_doveadm_prints_for_each_message() {
    let mut cases = 0;
    for entry in std::fs::read_dir(fixtures_dir().join("cache")).unwrap() {
        let dir = entry.unwrap().path();
        let theirs = dir.join("doveadm-dump.txt");
        if !theirs.exists() {
            continue;
        }
        let theirs = std::fs::read_to_string(theirs).unwrap();
        let cache = dir.join("dovecot.index.cache");
        let out = doveadm_rs(&["dump", "-t", "cache", cache.to_str().unwrap()]);
        let ours = common::check(&out, "doveadm-rs dump -t cache");

        let section = |text: &str| {
            let start = text.find("major version").expect("cache section");
            let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
            text[start..end].to_string()
        };
        assert_eq!(section(&ours), section(&theirs), "{}", dir.display());

        // Messages of the index whose chains are still in the file.
        let ours_blocks = cache_blocks(ours.split("-- RECORD CHAINS").nth(1).unwrap());
        let theirs_blocks = cache_blocks(theirs.split("-- RECORDS").nth(1).unwrap());
        assert!(
            !theirs_blocks.is_empty(),
            "{}: no cache lines",
            dir.display()
        );
        for (block, n) in &theirs_blocks {
            assert_eq!(
                ours_blocks.get(block),
                Some(n),
                "{}:\n{block}",
                dir.display()
            );
        }
        cases += 1;
    }
    assert!(cases >= 3, "only {cases} cache fixtures ran");
}

#[test]
fn unknown_types_list_doveadms_types_first() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    let theirs = home.doveadm(&["dump", "-t", "bogus", "/nonexistent"]);
    let ours = doveadm_rs(&["dump", "-t", "bogus", "/nonexistent"]);

    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(
        String::from_utf8_lossy(&ours.stderr),
        String::from_utf8_lossy(&theirs.stderr)
    );
}
