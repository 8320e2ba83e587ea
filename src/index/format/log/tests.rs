//! Decoding checked on records of real Dovecot-written logs (the
//! fixtures under tests/fixtures/log); each expected value is what the
//! real `doveadm dump` printed for the same record (the `.dump` beside
//! the fixture). Then payloads too short or too large for their type.

use super::*;

const MAILDIR_LOG2: &[u8] = include_bytes!("../../../../tests/fixtures/log/maildir-index.log.2");
const BACKUP_LOG: &[u8] = include_bytes!("../../../../tests/fixtures/log/backup-index.log");
const MDBOX_MAP_LOG: &[u8] = include_bytes!("../../../../tests/fixtures/log/mdbox-map.index.log");

/// The record at `offset` of a fixture.
fn record_at(data: &[u8], offset: u64) -> LogRecord {
    let log = LogFile::decode(data).expect("fixture decodes");
    log.records
        .into_iter()
        .find(|r| r.offset == offset)
        .unwrap_or_else(|| panic!("no record at {offset}"))
}

fn range(uid1: u32, uid2: u32) -> UidRange {
    UidRange { uid1, uid2 }
}

#[test]
fn real_header() {
    let hdr = LogFileHeader::decode(MAILDIR_LOG2).unwrap();
    assert_eq!(hdr.version(), version_full(1, 3));
    assert_eq!(hdr.hdr_size, 40);
    assert_eq!(hdr.indexid, 1796319100);
    assert_eq!(hdr.file_seq, 2);
    assert_eq!((hdr.prev_file_seq, hdr.prev_file_offset), (0, 0));
    assert_eq!(hdr.create_stamp, 1796319100);
    assert_eq!(hdr.initial_modseq, 1);
    assert_eq!(hdr.compat_flags, 1);
}

#[test]
fn real_boundary_and_ext_intro() {
    let rec = record_at(MAILDIR_LOG2, 40);
    assert_eq!(rec.flags, RecordFlags::EXTERNAL);
    assert_eq!(rec.body, RecordBody::Boundary(120));

    let rec = record_at(MAILDIR_LOG2, 52);
    let RecordBody::ExtIntro(intros) = rec.body else {
        panic!("not an intro: {rec:?}");
    };
    let want = ExtIntro {
        ext_id: u32::MAX,
        reset_id: 0,
        hdr_size: 36,
        record_size: 0,
        record_align: 0,
        flags: 1,
        name: b"maildir".to_vec(),
    };
    assert_eq!(intros, [want]);
}

#[test]
fn real_ext_hdr_and_header_update() {
    let rec = record_at(MAILDIR_LOG2, 88);
    let RecordBody::ExtHdrUpdate(updates) = rec.body else {
        panic!("not an ext-hdr: {rec:?}");
    };
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].offset, 0);
    assert_eq!(updates[0].data.len(), 36);
    assert_eq!(updates[0].data[..4], [0x7c, 0xa7, 0x11, 0x6b]);

    // doveadm prints only the first update: uid_validity = 1796319100.
    // The second sets log2_rotate_time (offset 76) to -1.
    let rec = record_at(MAILDIR_LOG2, 136);
    let uid_validity = HeaderUpdate {
        offset: 24,
        data: 1796319100u32.to_ne_bytes().to_vec(),
    };
    let log2_rotate_time = HeaderUpdate {
        offset: 76,
        data: vec![0xff; 4],
    };
    let want = RecordBody::HeaderUpdate(vec![uid_validity, log2_rotate_time]);
    assert_eq!(rec.body, want);
}

#[test]
fn real_ext_reset_append_and_ext_rec() {
    let rec = record_at(MAILDIR_LOG2, 296);
    let want = ExtReset {
        new_reset_id: 1796319100,
        preserve_data: Some(0),
    };
    assert_eq!(rec.body, RecordBody::ExtReset(want));

    let rec = record_at(MAILDIR_LOG2, 324);
    assert_eq!(
        rec.body,
        RecordBody::Append(vec![AppendRecord { uid: 1, flags: 0 }])
    );
    assert_eq!((rec.modseq, rec.modseq_changed), (2, true));

    // The cache extension's 4-byte record: 84010000 (dec=388).
    let rec = record_at(MAILDIR_LOG2, 368);
    let update = ExtRecUpdate {
        uid: 1,
        data: 388u32.to_ne_bytes().to_vec(),
    };
    let want = RecordBody::ExtRecUpdate {
        record_size: 4,
        updates: vec![update],
    };
    assert_eq!(rec.body, want);
}

#[test]
fn real_flag_and_keyword_updates() {
    let rec = record_at(MAILDIR_LOG2, 1412);
    let want = FlagUpdate {
        uids: range(1, 3),
        add_flags: 8,
        remove_flags: 0,
        modseq_inc_flag: 0,
    };
    assert_eq!(rec.body, RecordBody::FlagUpdate(vec![want]));
    assert_eq!(rec.modseq, 8);

    let rec = record_at(MAILDIR_LOG2, 1432);
    let want = KeywordUpdate {
        modify: KeywordModify::Add,
        name: b"$Label1".to_vec(),
        uids: vec![range(1, 3)],
    };
    assert_eq!(rec.body, RecordBody::KeywordUpdate(want));
    assert_eq!(rec.modseq, 9);

    let rec = record_at(MAILDIR_LOG2, 1604);
    let want = KeywordUpdate {
        modify: KeywordModify::Remove,
        name: b"$Label1".to_vec(),
        uids: vec![range(2, 2)],
    };
    assert_eq!(rec.body, RecordBody::KeywordUpdate(want));

    let rec = record_at(BACKUP_LOG, 528);
    assert_eq!(rec.flags, RecordFlags::EXTERNAL | RecordFlags::SYNC);
    assert_eq!(rec.modseq, 4);
}

#[test]
fn real_expunge_guid_and_attributes() {
    let rec = record_at(MAILDIR_LOG2, 2204);
    let want = ExpungeGuid {
        uid: 4,
        guid_128: [0; 16],
    };
    assert_eq!(rec.body, RecordBody::ExpungeGuid(vec![want]));
    assert_eq!((rec.modseq, rec.is_external()), (16, true));

    // add: private/comment, value_len=5; then remove: private/comment.
    let rec = record_at(MAILDIR_LOG2, 2352);
    let RecordBody::AttributeUpdate(changes) = rec.body else {
        panic!("not an attribute update: {rec:?}");
    };
    assert_eq!(changes.len(), 1);
    assert!(changes[0].set && changes[0].private);
    assert_eq!(changes[0].key, b"comment");
    assert_eq!(changes[0].value_len, Some(5));
    assert_eq!(rec.modseq, 17);

    let rec = record_at(MAILDIR_LOG2, 2380);
    let RecordBody::AttributeUpdate(changes) = rec.body else {
        panic!("not an attribute update: {rec:?}");
    };
    assert!(!changes[0].set && changes[0].value_len.is_none());
}

#[test]
fn real_modseq_update_and_atomic_inc() {
    let rec = record_at(BACKUP_LOG, 552);
    let want = ModseqUpdate { uid: 1, modseq: 26 };
    assert_eq!(rec.body, RecordBody::ModseqUpdate(vec![want]));
    assert_eq!((rec.modseq, rec.modseq_changed), (26, true));

    let rec = record_at(BACKUP_LOG, 440);
    assert_eq!(
        rec.body,
        RecordBody::Append(vec![AppendRecord { uid: 1, flags: 9 }])
    );

    let rec = record_at(MDBOX_MAP_LOG, 1204);
    let want = ExtAtomicInc { uid: 4, diff: -1 };
    assert_eq!(rec.body, RecordBody::ExtAtomicInc(vec![want]));
}

fn decode(type_code: u32, payload: &[u8]) -> Result<RecordBody> {
    let ctx = BodyContext {
        ext_record_size: Some(4),
    };
    RecordBody::decode(type_code, payload, 100, ctx)
}

fn assert_refused(type_code: u32, payload: &[u8], offset: u64, reason: &str) {
    let err = decode(type_code, payload).unwrap_err();
    assert_eq!(err.offset, offset, "{type_code:#x}: {err}");
    assert!(err.reason.contains(reason), "{type_code:#x}: {err}");
}

#[test]
fn short_payloads_are_refused_at_their_offset() {
    let expunge = TYPE_EXPUNGE | EXPUNGE_PROT;
    assert_refused(expunge, &[0; 12], 100, "8-byte entries");
    assert_refused(TYPE_FLAG_UPDATE, &[0; 8], 100, "12-byte entries");
    assert_refused(TYPE_APPEND, &[0; 4], 100, "8-byte entries");
    assert_refused(TYPE_MODSEQ_UPDATE, &[0; 16], 100, "12-byte entries");
    assert_refused(TYPE_EXT_INTRO, &[0; 12], 100, "at least 20");
    assert_refused(TYPE_EXT_REC_UPDATE, &[0; 12], 100, "8-byte entries");
    assert_refused(TYPE_BOUNDARY, &[], 100, "empty payload");
    assert_refused(TYPE_ATTRIBUTE_UPDATE, b"+pkey", 100, "doesn't end with NUL");
    assert_refused(
        TYPE_ATTRIBUTE_UPDATE,
        b"*pk\0\0\0\0\0",
        100,
        "Invalid prefix",
    );

    let err = RecordBody::decode(TYPE_EXT_REC_UPDATE, &[0; 8], 100, BodyContext::default());
    assert!(
        err.unwrap_err()
            .reason
            .contains("without an extension intro")
    );
}

#[test]
fn absurd_sizes_inside_payloads_are_refused() {
    // A keyword update naming 65535 bytes of name in an 8-byte payload.
    let mut kw = vec![0, 0];
    kw.extend_from_slice(&u16::MAX.to_ne_bytes());
    kw.extend_from_slice(b"abcd");
    assert_refused(TYPE_KEYWORD_UPDATE, &kw, 104, "keyword name");

    let mut empty_kw = vec![0, 0, 0, 0];
    empty_kw.extend_from_slice(&[0; 8]);
    assert_refused(TYPE_KEYWORD_UPDATE, &empty_kw, 102, "empty name");

    // An ext-hdr32 update of 4 GB.
    let mut hdr32 = 0u32.to_ne_bytes().to_vec();
    hdr32.extend_from_slice(&u32::MAX.to_ne_bytes());
    assert_refused(TYPE_EXT_HDR_UPDATE32, &hdr32, 100, "update size 4294967295");

    // An ext intro whose name runs past the payload.
    let mut intro = vec![0; 18];
    intro.extend_from_slice(&1000u16.to_ne_bytes());
    assert_refused(TYPE_EXT_INTRO, &intro, 120, "ext intro name");
}

#[test]
fn unknown_types_are_kept() {
    let body = decode(0x0400_0000, &[1, 2, 3, 4]).unwrap();
    let mut out = Vec::new();
    body.encode(&mut out);
    assert_eq!(out, [1, 2, 3, 4]);
    assert_eq!(body.type_code(), 0x0400_0000);
}

/// Records after a header of odd size are padded from their own start
/// (found by fuzzing: the padding followed the file's length).
#[test]
fn records_after_an_odd_header_round_trip() {
    let mut header = LogFileHeader::new(1, 2, 3);
    header.hdr_size = 41;
    header.extra = vec![0xee];
    let intro = ExtIntro {
        ext_id: 0,
        reset_id: 7,
        hdr_size: 12,
        record_size: 4,
        record_align: 2,
        flags: 1,
        name: b"abc".to_vec(),
    };
    let record = LogRecord {
        offset: 41,
        flags: RecordFlags::EXTERNAL,
        body: RecordBody::ExtIntro(vec![intro]),
        modseq: 0,
        modseq_changed: false,
    };
    let log = LogFile {
        header,
        records: vec![record],
    };
    let bytes = log.encode().unwrap();
    assert_eq!(bytes.len(), 41 + 8 + 24);
    assert_eq!(LogFile::decode(&bytes).unwrap(), log);
}
