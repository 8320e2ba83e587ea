//! Counterparts of the few units of Dovecot's own `src/lib` that the
//! formats depend on: the file locks that are part of the on-disk
//! protocol.

pub mod file_dotlock;
pub mod file_lock;
pub mod hex;
