//! Mailbox lists: which mailboxes a mail location holds, in the order
//! Dovecot lists them (mailbox-list-maildir-iter.c for the Maildir++
//! layout, mailbox-list-fs-iter.c for `LAYOUT=fs`, mailbox-tree.c for
//! the order), and the `subscriptions` file ([`subscriptions`]).
//!
//! The names come from the filesystem; their order from the list index
//! ([`index`]): siblings newest first, mailboxes the index does not know
//! yet taking new UIDs in directory order as Dovecot's refresh gives
//! them, and INBOX last.
//! TODO(list-names): mUTF-7 and `~` escaping of names are not decoded.

pub mod glob;
pub mod index;
pub mod subscriptions;

use std::collections::HashMap;
use std::io;
use std::path::Path;

use crate::storage::mail_user::{Layout, MailLocation};

pub use glob::Glob;

/// The mailboxes under `loc` whose names match `glob`, in list order.
pub fn list_mailboxes(loc: &MailLocation, glob: &Glob) -> io::Result<Vec<String>> {
    let mut tree = Tree::default();
    match loc.layout {
        Layout::MaildirPlusPlus => fill_maildir_plus_plus(loc, &mut tree)?,
        Layout::Fs => fill_fs(&loc.root, "", &mut tree)?,
    }
    tree.insert("INBOX", '/');

    let sep = loc.separator();
    let nodes = index::read_nodes(&loc.index.clone().unwrap_or(loc.root.clone()));
    let mut uids = index::uids_by_name(&nodes, sep);
    let mut next_uid = nodes.iter().map(|n| n.uid).max().unwrap_or(0);
    for name in tree.preorder(sep) {
        uids.entry(name).or_insert_with(|| {
            next_uid += 1;
            next_uid
        });
    }
    tree.sort(&uids, "", sep);

    let names = tree.preorder(sep);
    Ok(names.into_iter().filter(|n| glob.matches(n)).collect())
}

fn fill_maildir_plus_plus(loc: &MailLocation, tree: &mut Tree) -> io::Result<()> {
    for entry in std::fs::read_dir(&loc.root)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(vname) = name.strip_prefix('.') else {
            continue;
        };
        if vname.is_empty() || vname == "." || !is_dir(&entry.path()) {
            continue;
        }
        tree.insert(vname, '.');
    }
    Ok(())
}

fn fill_fs(dir: &Path, prefix: &str, tree: &mut Tree) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') || is_maildir_internal(name) || !is_dir(&entry.path()) {
            continue;
        }
        let vname = format!("{prefix}{name}");
        tree.insert(&vname, '/');
        fill_fs(&entry.path(), &format!("{vname}/"), tree)?;
    }
    Ok(())
}

fn is_maildir_internal(name: &str) -> bool {
    matches!(name, "cur" | "new" | "tmp")
}

fn is_dir(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_dir())
}

/// mailbox-tree.c's tree: children kept in insertion order, a parent
/// created before the first of its children.
#[derive(Default)]
struct Tree {
    children: Vec<(String, Tree)>,
}

impl Tree {
    fn insert(&mut self, vname: &str, sep: char) {
        let mut node = self;
        for part in vname.split(sep) {
            let pos = match node.children.iter().position(|(n, _)| n == part) {
                Some(pos) => pos,
                None => {
                    node.children.push((part.to_string(), Tree::default()));
                    node.children.len() - 1
                }
            };
            node = &mut node.children[pos].1;
        }
    }

    /// Newest sibling first, INBOX after its siblings.
    fn sort(&mut self, uids: &HashMap<String, u32>, prefix: &str, sep: char) {
        let full = |name: &str| match prefix {
            "" => name.to_string(),
            _ => format!("{prefix}{sep}{name}"),
        };
        self.children.sort_by_key(|(name, _)| {
            let is_inbox = prefix.is_empty() && name == "INBOX";
            let uid = uids.get(&full(name)).copied().unwrap_or(0);
            (is_inbox, std::cmp::Reverse(uid))
        });
        for (name, child) in &mut self.children {
            child.sort(uids, &full(name), sep);
        }
    }

    fn preorder(&self, sep: char) -> Vec<String> {
        let mut out = Vec::new();
        self.walk("", sep, &mut out);
        out
    }

    fn walk(&self, prefix: &str, sep: char, out: &mut Vec<String>) {
        for (name, child) in &self.children {
            let full = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}{sep}{name}")
            };
            out.push(full.clone());
            child.walk(&full, sep, out);
        }
    }
}

/// Does mailbox `vname` exist under `loc`?
pub fn mailbox_exists(loc: &MailLocation, vname: &str) -> bool {
    if vname.eq_ignore_ascii_case("INBOX") {
        return true;
    }
    is_dir(&loc.mailbox_dir(vname))
}
