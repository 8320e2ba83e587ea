//! The order `dovecot.list.index` gives mailboxes (mailbox-list-index.c):
//! its `list` extension names each node (header: `refresh_flag`, then
//! `{u32 id, NUL-terminated name}` pairs) and links it to a parent UID
//! (records: name id, parent UID, GUID, UID validity). Dovecot builds
//! each sibling list by prepending nodes in record order, so siblings
//! come newest first.
//!
//! TODO(list-index): nodes the index has but the filesystem lacks are
//! dropped here; Dovecot keeps them until its next refresh marks them.

use std::collections::HashMap;
use std::path::Path;

use crate::index::map::{IndexFiles, IndexMap, open_index};

/// Name of the list index extension.
const EXT_LIST: &str = "list";

/// One node: its UID, name and parent UID (0 for the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub uid: u32,
    pub name: String,
    pub parent_uid: u32,
}

/// The nodes of `DIR/dovecot.list.index`, in record order; empty when
/// there is no readable list index.
pub fn read_nodes(dir: &Path) -> Vec<Node> {
    let Ok(files) = IndexFiles::read(dir, "dovecot.list.index") else {
        return Vec::new();
    };
    match open_index(&files) {
        Ok(opened) => nodes_of(&opened.map),
        Err(e) => {
            log::debug!("{}: list index not used: {e}", dir.display());
            Vec::new()
        }
    }
}

fn nodes_of(map: &IndexMap) -> Vec<Node> {
    let Some(ext) = map.ext_idx(EXT_LIST) else {
        return Vec::new();
    };
    let names = parse_names(map.extensions[ext].header());
    let mut nodes = Vec::new();
    for idx in 0..map.records.len() {
        let Some(rec) = map.ext_record(idx, ext) else {
            continue;
        };
        let (Some(uid), Some(name_id), Some(parent_uid)) =
            (map.records.uid(idx), read_u32(rec, 0), read_u32(rec, 4))
        else {
            continue;
        };
        if let Some(name) = names.get(&name_id) {
            nodes.push(Node {
                uid,
                name: name.clone(),
                parent_uid,
            });
        }
    }
    nodes
}

fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at + 4)?;
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

/// Name ids to names; parsing stops at id 0, a non-increasing id or a
/// name without its NUL.
fn parse_names(header: &[u8]) -> HashMap<u32, String> {
    let mut names = HashMap::new();
    let (mut at, mut prev) = (1, 0);
    while let Some(id) = read_u32(header, at) {
        if id <= prev {
            break;
        }
        prev = id;
        at += 4;
        let rest = header.get(at..).unwrap_or(&[]);
        let Some(len) = memchr::memchr(0, rest) else {
            break;
        };
        names.insert(id, String::from_utf8_lossy(&rest[..len]).into_owned());
        at += len + 1;
    }
    names
}

/// Full names (levels joined by `sep`) with their list index UIDs.
pub fn uids_by_name(nodes: &[Node], sep: char) -> HashMap<String, u32> {
    let by_uid: HashMap<u32, &Node> = nodes.iter().map(|n| (n.uid, n)).collect();
    let mut out = HashMap::new();
    for node in nodes {
        let mut parts = vec![node.name.as_str()];
        let mut parent = node.parent_uid;
        let mut depth = 0;
        while let Some(p) = by_uid.get(&parent).filter(|_| depth < nodes.len()) {
            parts.push(p.name.as_str());
            parent = p.parent_uid;
            depth += 1;
        }
        parts.reverse();
        out.insert(parts.join(&sep.to_string()), node.uid);
    }
    out
}
