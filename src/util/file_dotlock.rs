//! Dot-locks, the lock files Dovecot puts beside a file it is about to
//! change (lib/file-dotlock.c): `dovecot-uidlist.lock`,
//! `dovecot-keywords.lock`, and every index file under
//! `lock_method=dotlock`.
//!
//! The protocol, which C Dovecot follows too:
//! - the lock is `PATH` + suffix (`.lock`), created atomically: by
//!   `link()`ing a fresh temporary file `.temp.HOST.PID.XXXXXX` beside it
//!   (works over NFS), or with `O_EXCL` when the settings allow;
//! - a plain lock holds `PID:HOST`; a lock taken with [`Dotlock::open`]
//!   starts empty, receives the file's new contents and is renamed over
//!   the file by [`Dotlock::replace`];
//! - a lock is stale, and may be taken over, when it names a dead process
//!   of this host, or when neither it nor the protected file changed for
//!   `stale_timeout`.
//!
//! Not done: the NFS attribute cache flushes (`nfs_flush`) and inotify
//! waits (`use_io_notify`); waits are plain sleeps.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// `struct dotlock_settings`, the parts this implementation honours.
#[derive(Debug, Clone)]
pub struct DotlockSettings {
    /// Prefix of the temporary file linked to the lock; relative to the
    /// lock's directory unless absolute. `None`: `.temp.HOST.PID.`.
    pub temp_prefix: Option<String>,
    pub lock_suffix: String,
    /// Give up after this long. Zero: try once.
    pub timeout: Duration,
    /// Take over a lock unchanged for this long. Zero: never.
    pub stale_timeout: Duration,
    /// Create with `O_EXCL` instead of `link()`.
    pub use_excl_lock: bool,
}

impl Default for DotlockSettings {
    fn default() -> Self {
        DotlockSettings {
            temp_prefix: None,
            lock_suffix: ".lock".to_string(),
            timeout: Duration::from_secs(120),
            stale_timeout: Duration::from_secs(0),
            use_excl_lock: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DotlockError {
    #[error("Timeout while waiting for dotlock {}", path.display())]
    Timeout { path: PathBuf },
    #[error("{call}({}) failed: {source}", path.display())]
    Io {
        call: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err<'a>(call: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> DotlockError + 'a {
    move |source| DotlockError::Io {
        call,
        path: path.to_path_buf(),
        source,
    }
}

/// A held dot-lock. Dropping it deletes the lock file (if it is still
/// ours); [`Dotlock::replace`] renames it over the protected file.
#[derive(Debug)]
pub struct Dotlock {
    path: PathBuf,
    lock_path: PathBuf,
    file: File,
    dev: u64,
    ino: u64,
    released: bool,
}

/// What we learned about an existing lock file between two looks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Seen {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
}

impl Dotlock {
    /// Take the lock for `path` (`file_dotlock_create()`): the lock file
    /// holds our `PID:HOST`. Fails with [`DotlockError::Timeout`] when
    /// another live holder keeps it for the whole timeout.
    pub fn create(set: &DotlockSettings, path: &Path) -> Result<Dotlock, DotlockError> {
        Self::acquire(set, path, true)
    }

    /// Take the lock for `path` to write the file's new contents into it
    /// (`file_dotlock_open()`); see [`Dotlock::file`] and
    /// [`Dotlock::replace`].
    pub fn open(set: &DotlockSettings, path: &Path) -> Result<Dotlock, DotlockError> {
        Self::acquire(set, path, false)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// The open lock file, for writing the new contents.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Is the lock file on disk still the one we created?
    pub fn is_locked(&self) -> bool {
        match fs::symlink_metadata(&self.lock_path) {
            Ok(st) => st.dev() == self.dev && st.ino() == self.ino,
            Err(_) => false,
        }
    }

    /// Rename the lock file over the protected file
    /// (`file_dotlock_replace()`). With `verify_owner`, first check that
    /// nobody took the lock over; `Ok(false)` when someone did.
    pub fn replace(mut self, verify_owner: bool) -> Result<bool, DotlockError> {
        self.released = true;
        if verify_owner && !self.is_locked() {
            log::warn!(
                "Our dotlock file {} was overridden",
                self.lock_path.display()
            );
            return Ok(false);
        }
        fs::rename(&self.lock_path, &self.path).map_err(io_err("rename", &self.lock_path))?;
        Ok(true)
    }

    /// Remove the lock (`file_dotlock_delete()`). `Ok(false)` when it was
    /// already deleted or taken over by someone else.
    pub fn delete(mut self) -> Result<bool, DotlockError> {
        self.released = true;
        self.remove_if_ours()
    }

    fn remove_if_ours(&self) -> Result<bool, DotlockError> {
        if !self.is_locked() {
            log::warn!(
                "Our dotlock file {} was deleted or overridden",
                self.lock_path.display()
            );
            return Ok(false);
        }
        match fs::remove_file(&self.lock_path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("unlink", &self.lock_path)(e)),
        }
    }

    fn acquire(
        set: &DotlockSettings,
        path: &Path,
        write_pid: bool,
    ) -> Result<Dotlock, DotlockError> {
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(&set.lock_suffix);
        let lock_path = PathBuf::from(lock_path);

        let start = SystemTime::now();
        let mut watch = StaleWatch::default();
        let mut pause = Duration::from_millis(5);
        loop {
            if watch.may_create(set, path, &lock_path)? {
                if let Some(file) = try_create(set, &lock_path, write_pid)? {
                    let st = file.metadata().map_err(io_err("fstat", &lock_path))?;
                    return Ok(Dotlock {
                        path: path.to_path_buf(),
                        lock_path,
                        file,
                        dev: st.dev(),
                        ino: st.ino(),
                        released: false,
                    });
                }
            }
            let waited = start.elapsed().unwrap_or_default();
            if waited >= set.timeout {
                return Err(DotlockError::Timeout { path: lock_path });
            }
            std::thread::sleep(pause.min(set.timeout - waited));
            pause = (pause * 3 / 2).min(Duration::from_millis(500));
        }
    }
}

impl Drop for Dotlock {
    fn drop(&mut self) {
        if !self.released {
            if let Err(e) = self.remove_if_ours() {
                log::error!("{e}");
            }
        }
    }
}

/// Tracks an existing lock file across attempts to decide when it is
/// stale (`check_lock()`).
#[derive(Debug, Default)]
struct StaleWatch {
    lock: Option<Seen>,
    file: Option<Seen>,
    last_change: Option<SystemTime>,
}

impl StaleWatch {
    /// May we try to create the lock now? Removes a stale lock first.
    fn may_create(
        &mut self,
        set: &DotlockSettings,
        path: &Path,
        lock_path: &Path,
    ) -> Result<bool, DotlockError> {
        let Some(seen) = stat_seen(lock_path)? else {
            return Ok(true);
        };
        let now = SystemTime::now();
        self.note(&seen, SeenWhich::Lock, now);

        if let Some(pid) = read_local_pid(lock_path) {
            let recent = seen.mtime >= unix_secs(now) - STALE_PID_CHECK_SECS;
            if !recent && !process_exists(pid) {
                log::warn!(
                    "Removing dotlock {} of dead process {pid}",
                    lock_path.display()
                );
                return override_lock(lock_path);
            }
            if pid != std::process::id() as i32 {
                return Ok(false);
            }
        }
        if set.stale_timeout.is_zero() {
            return Ok(false);
        }
        if let Some(file) = stat_seen(path)? {
            self.note(&file, SeenWhich::File, now);
        }
        let unchanged = self
            .last_change
            .and_then(|t| now.duration_since(t).ok())
            .unwrap_or_default();
        if unchanged > set.stale_timeout {
            log::warn!("Overriding stale dotlock {}", lock_path.display());
            return override_lock(lock_path);
        }
        Ok(false)
    }

    fn note(&mut self, seen: &Seen, which: SeenWhich, now: SystemTime) {
        let slot = match which {
            SeenWhich::Lock => &mut self.lock,
            SeenWhich::File => &mut self.file,
        };
        if slot.as_ref() == Some(seen) {
            return;
        }
        // The first look dates the change by the file's mtime (if it is
        // not in the future); later changes date from now.
        let changed_at = match slot {
            None => SystemTime::UNIX_EPOCH + Duration::from_secs(seen.mtime.max(0) as u64),
            Some(_) => now,
        }
        .min(now);
        *slot = Some(*seen);
        self.last_change = Some(self.last_change.map_or(changed_at, |t| t.max(changed_at)));
    }
}

#[derive(Debug, Clone, Copy)]
enum SeenWhich {
    Lock,
    File,
}

/// A lock younger than this is not checked for a dead owner: its writer
/// may not have written its PID yet.
const STALE_PID_CHECK_SECS: i64 = 2;

fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn stat_seen(path: &Path) -> Result<Option<Seen>, DotlockError> {
    match fs::symlink_metadata(path) {
        Ok(st) => Ok(Some(Seen {
            dev: st.dev(),
            ino: st.ino(),
            size: st.size(),
            mtime: st.mtime(),
        })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("lstat", path)(e)),
    }
}

fn override_lock(lock_path: &Path) -> Result<bool, DotlockError> {
    match fs::remove_file(lock_path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io_err("unlink", lock_path)(e)),
    }
}

/// The PID in a lock file written on this host, if any.
fn read_local_pid(lock_path: &Path) -> Option<i32> {
    let content = fs::read(lock_path).ok()?;
    let content = content.get(..content.len().min(511))?;
    let text = std::str::from_utf8(content).ok()?;
    let (pid, host) = text.trim_end_matches('\n').split_once(':')?;
    if host != hostname() {
        return None;
    }
    pid.parse().ok().filter(|&pid: &i32| pid > 0)
}

fn process_exists(pid: i32) -> bool {
    // SAFETY: kill() with signal 0 only checks for the process.
    let ret = unsafe { libc::kill(pid, 0) };
    ret == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// This host's name, as Dovecot's `my_hostname` (the nodename).
pub fn hostname() -> String {
    // SAFETY: utsname is a plain C struct; all-zero is a valid value.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uts is a valid, writable utsname.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return "localhost".to_string();
    }
    let bytes: Vec<u8> = uts
        .nodename
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// One attempt at creating the lock file; `None` when it exists.
fn try_create(
    set: &DotlockSettings,
    lock_path: &Path,
    write_pid: bool,
) -> Result<Option<File>, DotlockError> {
    if set.use_excl_lock {
        return create_excl(lock_path, write_pid);
    }
    create_by_link(set, lock_path, write_pid)
}

fn create_excl(lock_path: &Path, write_pid: bool) -> Result<Option<File>, DotlockError> {
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(lock_path);
    let mut file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(io_err("open", lock_path)(e)),
    };
    if write_pid {
        write_pid_line(&mut file);
    }
    Ok(Some(file))
}

fn create_by_link(
    set: &DotlockSettings,
    lock_path: &Path,
    write_pid: bool,
) -> Result<Option<File>, DotlockError> {
    let dir = lock_path.parent().unwrap_or(Path::new("."));
    let prefix = set
        .temp_prefix
        .clone()
        .unwrap_or_else(|| format!(".temp.{}.{}.", hostname(), std::process::id()));
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .rand_bytes(6)
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(io_err("mkstemp", dir))?;
    if write_pid {
        write_pid_line(temp.as_file_mut());
    }

    match fs::hard_link(temp.path(), lock_path) {
        // The temporary name is removed when `temp` goes; the lock name
        // keeps the inode and the open file.
        Ok(()) => Ok(Some(temp.reopen().map_err(io_err("open", lock_path))?)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(io_err("link", lock_path)(e)),
    }
}

/// `PID:HOST`, or an empty lock if it can't be written (as Dovecot).
fn write_pid_line(file: &mut File) {
    let line = format!("{}:{}", std::process::id(), hostname());
    if file.write_all(line.as_bytes()).is_err() {
        let _ = file.set_len(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn quick() -> DotlockSettings {
        DotlockSettings {
            timeout: Duration::from_millis(50),
            ..DotlockSettings::default()
        }
    }

    #[test]
    fn lock_file_holds_pid_and_host_and_goes_on_delete() {
        for use_excl_lock in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("dovecot-uidlist");
            let set = DotlockSettings {
                use_excl_lock,
                ..quick()
            };
            let lock = Dotlock::create(&set, &path).unwrap();
            let text = fs::read_to_string(dir.path().join("dovecot-uidlist.lock")).unwrap();
            assert_eq!(text, format!("{}:{}", std::process::id(), hostname()));

            assert!(lock.delete().unwrap());
            let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
            assert!(left.is_empty(), "lock or temp file left behind: {left:?}");
        }
    }

    #[test]
    fn a_live_holder_makes_others_wait_until_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let held = Dotlock::create(&quick(), &path).unwrap();

        let err = Dotlock::create(&quick(), &path).unwrap_err();
        assert!(matches!(err, DotlockError::Timeout { .. }), "{err}");
        drop(held);
        assert!(!dir.path().join("f.lock").exists());
    }

    #[test]
    fn replace_renames_the_new_contents_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dovecot-keywords");
        fs::write(&path, "0 old\n").unwrap();

        let mut lock = Dotlock::open(&quick(), &path).unwrap();
        lock.file().write_all(b"0 $Label1\n").unwrap();
        assert!(lock.replace(true).unwrap());

        let mut text = String::new();
        File::open(&path)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "0 $Label1\n");
        assert!(!dir.path().join("dovecot-keywords.lock").exists());
    }

    #[test]
    fn a_lock_of_a_dead_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let lock_path = dir.path().join("f.lock");
        // PIDs above the kernel's pid_max can't be alive.
        fs::write(&lock_path, format!("2147483646:{}", hostname())).unwrap();
        let old = SystemTime::now() - Duration::from_secs(60);
        File::options()
            .write(true)
            .open(&lock_path)
            .unwrap()
            .set_modified(old)
            .unwrap();

        let lock = Dotlock::create(&quick(), &path).unwrap();
        assert!(lock.is_locked());
    }

    #[test]
    fn an_unchanged_foreign_lock_is_stale_after_stale_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let lock_path = dir.path().join("f.lock");
        fs::write(&lock_path, "1:some-other-host").unwrap();
        let old = SystemTime::now() - Duration::from_secs(600);
        File::options()
            .write(true)
            .open(&lock_path)
            .unwrap()
            .set_modified(old)
            .unwrap();

        let set = DotlockSettings {
            stale_timeout: Duration::from_secs(300),
            ..quick()
        };
        assert!(Dotlock::create(&set, &path).is_ok());

        fs::write(&lock_path, "1:some-other-host").unwrap();
        let never = DotlockSettings {
            stale_timeout: Duration::ZERO,
            ..quick()
        };
        assert!(Dotlock::create(&never, &dir.path().join("g")).is_ok());
        assert!(
            Dotlock::create(&never, &path).is_err(),
            "fresh foreign lock overridden"
        );
    }
}
