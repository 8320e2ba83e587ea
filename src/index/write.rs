//! Rewriting `dovecot.index` (mail-index-write.c): the head map is
//! written to `dovecot.index.tmp`, `fdatasync`ed unless `fsync_mode` is
//! never, and renamed over `dovecot.index`. The written header's tail
//! offset is set to its head offset, as Dovecot writes it: callers only
//! write when everything up to the head is synced.
//!
//! TODO(index-backup): `KEEP_BACKUPS` (`dovecot.index.backup`).

use std::fs;
use std::io::Write;
use std::path::Path;

use super::mail_index::{Index, IndexError, file_id};
use super::transaction_log::FsyncMode;

impl Index {
    /// Rewrite `dovecot.index` from the head map, under the log lock.
    pub fn write_index_file(&mut self) -> Result<(), IndexError> {
        if self.readonly || self.in_memory {
            return Ok(());
        }
        let mut file = self.map.to_file();
        file.hdr.log_file_tail_offset = file.hdr.log_file_head_offset;
        let bytes = file.encode();
        let tmp = self.file_path(".tmp");
        write_synced(&tmp, &bytes, self.settings.fsync_mode != FsyncMode::Never)?;
        fs::rename(&tmp, &self.filepath).map_err(|source| IndexError::Io {
            call: "rename",
            path: tmp.clone(),
            source,
        })?;

        self.main_index_hdr_log_file_seq = file.hdr.log_file_seq;
        self.main_index_hdr_log_file_tail_offset = file.hdr.log_file_tail_offset;
        self.index_file_id = file_id(&self.filepath);
        self.need_recreate = false;
        log::debug!(
            "Recreated {} (file_seq={})",
            self.filepath.display(),
            file.hdr.log_file_seq
        );
        Ok(())
    }
}

impl Index {
    /// mail_index_write after a sync: rewrite unless another process
    /// replaced `dovecot.index` since we read it (then its decisions are
    /// as good as ours), or the log was just rotated.
    pub(crate) fn write_index_file_after_sync(&mut self, rotated: bool) -> Result<(), IndexError> {
        let current = file_id(&self.filepath);
        let replaced = current.is_some() && current != self.index_file_id;
        if replaced && !rotated && !self.need_recreate {
            return Ok(());
        }
        self.write_index_file()
    }
}

/// Create `path` afresh with `bytes`, optionally `fdatasync`ed.
fn write_synced(path: &Path, bytes: &[u8], sync: bool) -> Result<(), IndexError> {
    let io_err = |call| {
        move |source| IndexError::Io {
            call,
            path: path.to_path_buf(),
            source,
        }
    };
    let _ = fs::remove_file(path);
    let mut file = fs::File::options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_err("open"))?;
    file.write_all(bytes).map_err(io_err("write"))?;
    if sync {
        file.sync_data().map_err(io_err("fdatasync"))?;
    }
    Ok(())
}
