//! Writing record payloads, the inverse of [`super::decode`]: each
//! struct in Dovecot's layout, padding written as zeros.

use super::body::*;
use crate::index::format::PutNe;

pub(super) fn put_uid_ranges(out: &mut Vec<u8>, ranges: &[UidRange]) {
    for r in ranges {
        out.put_u32(r.uid1);
        out.put_u32(r.uid2);
    }
}

pub(super) fn put_flag_update(out: &mut Vec<u8>, u: &FlagUpdate) {
    out.put_u32(u.uids.uid1);
    out.put_u32(u.uids.uid2);
    out.put_u8(u.add_flags);
    out.put_u8(u.remove_flags);
    out.put_u8(u.modseq_inc_flag);
    out.put_u8(0);
}

pub(super) fn put_header_updates(out: &mut Vec<u8>, updates: &[HeaderUpdate], wide: bool) {
    for u in updates {
        if wide {
            out.put_u32(u.offset);
            out.put_u32(u.data.len() as u32);
        } else {
            out.put_u16(u.offset as u16);
            out.put_u16(u.data.len() as u16);
        }
        out.extend_from_slice(&u.data);
        out.pad_to(4);
    }
}

pub(super) fn put_ext_intro(out: &mut Vec<u8>, i: &ExtIntro) {
    out.put_u32(i.ext_id);
    out.put_u32(i.reset_id);
    out.put_u32(i.hdr_size);
    out.put_u16(i.record_size);
    out.put_u16(i.record_align);
    out.put_u16(i.flags);
    out.put_u16(i.name.len() as u16);
    out.extend_from_slice(&i.name);
    out.pad_to(4);
}

pub(super) fn put_ext_reset(out: &mut Vec<u8>, r: &ExtReset) {
    out.put_u32(r.new_reset_id);
    if let Some(preserve) = r.preserve_data {
        out.put_u8(preserve);
        out.pad_to(4);
    }
}

pub(super) fn put_ext_rec_updates(out: &mut Vec<u8>, record_size: u16, updates: &[ExtRecUpdate]) {
    for u in updates {
        out.put_u32(u.uid);
        let start = out.len();
        out.extend_from_slice(&u.data);
        out.resize(start + usize::from(record_size), 0);
        out.pad_to(4);
    }
}

pub(super) fn put_keyword_update(out: &mut Vec<u8>, k: &KeywordUpdate) {
    out.put_u8(k.modify.to_u8());
    out.put_u8(0);
    out.put_u16(k.name.len() as u16);
    out.extend_from_slice(&k.name);
    out.pad_to(4);
    put_uid_ranges(out, &k.uids);
}

pub(super) fn put_attribute_changes(out: &mut Vec<u8>, changes: &[AttributeChange]) {
    for c in changes {
        out.push(if c.set { b'+' } else { b'-' });
        out.push(if c.private { b'p' } else { b's' });
        out.extend_from_slice(&c.key);
        out.push(0);
    }
    out.push(0);
    out.pad_to(4);
    for c in changes {
        out.put_u32(c.timestamp);
        if let Some(len) = c.value_len {
            out.put_u32(len);
        }
    }
}
