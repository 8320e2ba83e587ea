//! Advisory file locks with Dovecot's `lock_method` (lib/file-lock.c).
//!
//! The lock is part of the on-disk protocol: a C Dovecot process and this
//! library must exclude each other. For `fcntl` we take the same
//! whole-file POSIX record lock Dovecot takes, but as an open file
//! description lock (`F_OFD_SETLK`): Linux makes the two kinds conflict
//! with each other, and an OFD lock is not silently dropped when some
//! other descriptor of the same file is closed in this process. `flock`
//! is the same `flock(2)` Dovecot uses. `dotlock` lives in
//! [`super::file_dotlock`].
//!
//! Waiting is done by retrying a non-blocking attempt with a short,
//! growing sleep until the timeout, instead of Dovecot's `alarm()`
//! interrupting a blocking call: no signal handlers in a library.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Dovecot's default lock wait, in seconds (`DEFAULT_LOCK_TIMEOUT`).
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(120);

/// The `lock_method` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockMethod {
    #[default]
    Fcntl,
    Flock,
    Dotlock,
}

impl FromStr for LockMethod {
    type Err = UnknownLockMethod;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "fcntl" => Ok(LockMethod::Fcntl),
            "flock" => Ok(LockMethod::Flock),
            "dotlock" => Ok(LockMethod::Dotlock),
            _ => Err(UnknownLockMethod(name.to_string())),
        }
    }
}

impl fmt::Display for LockMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LockMethod::Fcntl => "fcntl",
            LockMethod::Flock => "flock",
            LockMethod::Dotlock => "dotlock",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown lock_method: {0}")]
pub struct UnknownLockMethod(pub String);

/// Shared (read) or exclusive (write) lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    Read,
    Write,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone else held the lock for the whole wait.
    #[error("Timeout ({secs}s) while waiting for lock for {}", path.display())]
    Timeout { path: PathBuf, secs: u64 },
    /// The lock call itself failed (`ENOLCK`, `EBADF`, ...).
    #[error("{call}({}) locking failed: {source}", path.display())]
    Io {
        call: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// `dotlock` locks a path, not a descriptor: use `file_dotlock`.
    #[error("lock_method=dotlock can't lock an open file ({})", path.display())]
    DotlockNeedsPath { path: PathBuf },
}

/// A held `fcntl` or `flock` lock; released when dropped.
///
/// The lock belongs to the open file description of `fd`, which the
/// caller keeps open for as long as the lock lives.
#[derive(Debug)]
pub struct FileLock<'fd> {
    fd: BorrowedFd<'fd>,
    path: PathBuf,
    method: LockMethod,
}

impl FileLock<'_> {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn method(&self) -> LockMethod {
        self.method
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        // Unlocking a lock we hold cannot fail in a way we could act on;
        // closing the descriptor would release it anyway.
        let _ = lock_once(self.fd, self.method, None);
    }
}

/// Try once; `Ok(None)` when another process holds a conflicting lock.
pub fn try_lock<'fd>(
    fd: BorrowedFd<'fd>,
    path: &Path,
    kind: LockKind,
    method: LockMethod,
) -> Result<Option<FileLock<'fd>>, LockError> {
    match lock_once(fd, method, Some(kind)) {
        Ok(true) => Ok(Some(FileLock {
            fd,
            path: path.to_path_buf(),
            method,
        })),
        Ok(false) => Ok(None),
        Err(source) => Err(lock_error(method, path, source)),
    }
}

/// Wait up to `timeout` for the lock (`file_wait_lock()`).
pub fn wait_lock<'fd>(
    fd: BorrowedFd<'fd>,
    path: &Path,
    kind: LockKind,
    method: LockMethod,
    timeout: Duration,
) -> Result<FileLock<'fd>, LockError> {
    retry_until(path, timeout, || try_lock(fd, path, kind, method))
}

/// A held `fcntl` or `flock` lock that owns a duplicate of the locked
/// descriptor, for locks kept across calls (the transaction log's head
/// lock). The lock belongs to the shared open file description and is
/// released when this is dropped.
#[derive(Debug)]
pub struct OwnedFileLock {
    file: std::fs::File,
    path: PathBuf,
    method: LockMethod,
}

impl OwnedFileLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for OwnedFileLock {
    fn drop(&mut self) {
        use std::os::fd::AsFd;
        let _ = lock_once(self.file.as_fd(), self.method, None);
    }
}

/// [`wait_lock`] on `file`, returning a lock that owns a duplicate of it.
pub fn wait_lock_owned(
    file: &std::fs::File,
    path: &Path,
    kind: LockKind,
    method: LockMethod,
    timeout: Duration,
) -> Result<OwnedFileLock, LockError> {
    use std::os::fd::AsFd;
    let dup = file
        .try_clone()
        .map_err(|source| lock_error(method, path, source))?;
    retry_until(path, timeout, || {
        match lock_once(dup.as_fd(), method, Some(kind)) {
            Ok(locked) => Ok(locked.then_some(())),
            Err(source) => Err(lock_error(method, path, source)),
        }
    })?;
    Ok(OwnedFileLock {
        file: dup,
        path: path.to_path_buf(),
        method,
    })
}

/// Call `attempt` until it gives a lock or `timeout` has passed.
fn retry_until<T>(
    path: &Path,
    timeout: Duration,
    mut attempt: impl FnMut() -> Result<Option<T>, LockError>,
) -> Result<T, LockError> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);

    loop {
        if let Some(lock) = attempt()? {
            return Ok(lock);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(LockError::Timeout {
                path: path.to_path_buf(),
                secs: timeout.as_secs(),
            });
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

fn lock_error(method: LockMethod, path: &Path, source: io::Error) -> LockError {
    let call = match method {
        LockMethod::Fcntl => "fcntl",
        LockMethod::Flock => "flock",
        LockMethod::Dotlock => {
            return LockError::DotlockNeedsPath {
                path: path.to_path_buf(),
            };
        }
    };
    LockError::Io {
        call,
        path: path.to_path_buf(),
        source,
    }
}

/// One non-blocking lock (`Some(kind)`) or unlock (`None`) call.
/// Returns `Ok(false)` when the lock is held elsewhere.
fn lock_once(fd: BorrowedFd<'_>, method: LockMethod, kind: Option<LockKind>) -> io::Result<bool> {
    let ret = match method {
        LockMethod::Fcntl => fcntl_lock(fd, kind),
        LockMethod::Flock => flock_lock(fd, kind),
        LockMethod::Dotlock => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
    };
    if ret == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
        _ => Err(err),
    }
}

fn fcntl_lock(fd: BorrowedFd<'_>, kind: Option<LockKind>) -> libc::c_int {
    let l_type = match kind {
        Some(LockKind::Read) => libc::F_RDLCK,
        Some(LockKind::Write) => libc::F_WRLCK,
        None => libc::F_UNLCK,
    };
    // SAFETY: an all-zero flock is a valid value of this plain C struct.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = l_type as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    // l_start = 0, l_len = 0: the whole file, as Dovecot locks it;
    // l_pid = 0, as OFD locks require.

    // SAFETY: fd is a valid open descriptor for the borrow's lifetime and
    // fl is a properly initialized flock the kernel only reads.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_SETLK, &fl) }
}

fn flock_lock(fd: BorrowedFd<'_>, kind: Option<LockKind>) -> libc::c_int {
    let op = match kind {
        Some(LockKind::Read) => libc::LOCK_SH | libc::LOCK_NB,
        Some(LockKind::Write) => libc::LOCK_EX | libc::LOCK_NB,
        None => libc::LOCK_UN,
    };
    // SAFETY: fd is a valid open descriptor for the borrow's lifetime.
    unsafe { libc::flock(fd.as_raw_fd(), op) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::os::fd::AsFd;

    #[test]
    fn lock_method_names_are_dovecots() {
        for name in ["fcntl", "flock", "dotlock"] {
            let method: LockMethod = name.parse().unwrap();
            assert_eq!(method.to_string(), name);
        }
        assert!("lockf".parse::<LockMethod>().is_err());
    }

    #[test]
    fn write_locks_exclude_each_other_until_dropped() {
        for method in [LockMethod::Fcntl, LockMethod::Flock] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("dovecot.index.log");
            let a = File::create(&path).unwrap();
            let b = File::open(&path).unwrap();

            let held = try_lock(a.as_fd(), &path, LockKind::Write, method)
                .unwrap()
                .expect("first lock");
            let second = try_lock(b.as_fd(), &path, LockKind::Read, method).unwrap();
            assert!(
                second.is_none(),
                "{method}: read lock granted under write lock"
            );

            drop(held);
            let again = try_lock(b.as_fd(), &path, LockKind::Read, method).unwrap();
            assert!(again.is_some(), "{method}: lock not released on drop");
        }
    }

    #[test]
    fn waiting_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let a = File::create(&path).unwrap();
        let b = File::options().write(true).open(&path).unwrap();
        let _held = try_lock(a.as_fd(), &path, LockKind::Write, LockMethod::Fcntl)
            .unwrap()
            .unwrap();

        let timeout = Duration::from_millis(30);
        let err = wait_lock(
            b.as_fd(),
            &path,
            LockKind::Write,
            LockMethod::Fcntl,
            timeout,
        )
        .unwrap_err();
        assert!(matches!(err, LockError::Timeout { .. }), "{err}");
    }
}
