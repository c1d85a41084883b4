//! A plan file's bytes: a large file is mapped into memory instead of copied.
//!
//! Reading a file costs the kernel's copy into a fresh buffer and that buffer's page faults, on the
//! reading thread. On a 100 MB plan that was about 60 ms of a 220 ms `scan` (and the same share of
//! the `json_floor` process it is measured against); mapping it with `MAP_POPULATE` takes about
//! 11 ms, and the parse reads the page cache directly. Nothing keeps a reference into the map after
//! the parse: [`super::model::Plan`] owns what it keeps, so the map is dropped inside `load_plan`.
//!
//! A mapped file that another process cuts short while it is read would kill the process with
//! `SIGBUS`. While a map is live, a handler turns that into the one-line error every bad input gets
//! (`error: PLAN: the file was cut short while it was read ...`, exit status 2). A file rewritten in
//! place (same length) while it is read parses as whatever bytes it then holds: the parse checks
//! them as it goes (UTF-8, JSON syntax, field types), as it checks any file.
//!
//! Small files, anything that is not a regular file, other systems than Linux, and any failure to
//! map are read the ordinary way.
//!
//! The `iamtrim` binary leaves the map to the process's exit ([`leave_maps_at_exit`]): unmapping a
//! populated 100 MB map cost 5-8 ms on the one thread, between the parse and discovery. The handler
//! stops covering a map as soon as it is dropped, whether it is unmapped or left.

use std::ops::Deref;
use std::path::Path;

/// Files smaller than this are read: mapping pays only for large plans.
pub(super) const MAP_MIN_BYTES: u64 = 16 << 20;

/// The bytes of a plan file.
pub(super) enum FileBytes {
    /// Read into memory.
    Read(Vec<u8>),
    /// Mapped (Linux, large regular files).
    #[cfg(target_os = "linux")]
    Mapped(linux::Map),
}

impl Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Read(bytes) => bytes,
            #[cfg(target_os = "linux")]
            FileBytes::Mapped(map) => map.bytes(),
        }
    }
}

/// Makes maps dropped from now on stay mapped until the process exits, unread (see the module
/// docs). For a process that exits right after its command; the default unmaps them.
pub fn leave_maps_at_exit() {
    #[cfg(target_os = "linux")]
    linux::LEAVE_AT_EXIT.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The bytes of the file at `path` (`shown` names it in the `SIGBUS` message), mapped when it is a
/// regular file of at least `map_min` bytes.
pub(super) fn file_bytes(path: &Path, shown: &str, map_min: u64) -> std::io::Result<FileBytes> {
    #[cfg(target_os = "linux")]
    if let Some(map) = linux::Map::of(path, shown, map_min)? {
        return Ok(FileBytes::Mapped(map));
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (shown, map_min);
    std::fs::read(path).map(FileBytes::Read)
}

#[cfg(target_os = "linux")]
mod linux {
    use std::os::unix::io::AsRawFd;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

    /// A read-only private map of a whole file.
    pub(in crate::plan) struct Map {
        ptr: *mut libc::c_void,
        len: usize,
        /// Left mapped when dropped ([`LEAVE_AT_EXIT`] when it was made).
        pub(in crate::plan) leave: bool,
        /// The `SIGBUS` message, kept alive while the handler may print it.
        _message: Box<[u8]>,
    }

    // SAFETY: the map is read-only and owned; sharing `&[u8]` over it between threads is as for a
    // `Vec<u8>`.
    unsafe impl Send for Map {}
    unsafe impl Sync for Map {}

    /// See [`super::leave_maps_at_exit`].
    pub(super) static LEAVE_AT_EXIT: AtomicBool = AtomicBool::new(false);

    /// One map at a time is covered by the handler (a process reads one plan); a second one while
    /// it lives is read instead. Set for the map's whole life.
    static IN_USE: AtomicBool = AtomicBool::new(false);

    /// What the handler reads: the live map's range and its message. Written before the map is
    /// first touched and cleared after it is unmapped.
    static MAP_START: AtomicUsize = AtomicUsize::new(0);
    static MAP_LEN: AtomicUsize = AtomicUsize::new(0);
    static MESSAGE: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
    static MESSAGE_LEN: AtomicUsize = AtomicUsize::new(0);

    impl Map {
        /// Maps `path` when it is a regular file of at least `min` bytes (and not empty), the slot
        /// is free and the kernel agrees; `None` otherwise, to read it instead.
        pub(in crate::plan) fn of(
            path: &Path,
            shown: &str,
            min: u64,
        ) -> std::io::Result<Option<Map>> {
            let file = std::fs::File::open(path)?;
            let meta = file.metadata()?;
            let Ok(len) = usize::try_from(meta.len()) else {
                return Ok(None);
            };
            if !meta.is_file() || meta.len() < min || len == 0 {
                return Ok(None);
            }
            if IN_USE
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                return Ok(None);
            }
            install_handler();
            // SAFETY: a fresh read-only private mapping of an open file descriptor; the kernel
            // picks the address. `MAP_POPULATE` faults every page in now, in one call.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_POPULATE,
                    file.as_raw_fd(),
                    0,
                )
            };
            if ptr == libc::MAP_FAILED {
                IN_USE.store(false, Ordering::SeqCst);
                return Ok(None);
            }
            let message: Box<[u8]> = format!(
                "error: {shown}: the file was cut short while it was read; run iamtrim again once whatever writes it is done\n"
            )
            .into_bytes()
            .into_boxed_slice();
            MESSAGE_LEN.store(message.len(), Ordering::SeqCst);
            MESSAGE.store(message.as_ptr().cast_mut(), Ordering::SeqCst);
            MAP_LEN.store(len, Ordering::SeqCst);
            MAP_START.store(ptr as usize, Ordering::SeqCst);
            Ok(Some(Map {
                ptr,
                len,
                leave: LEAVE_AT_EXIT.load(Ordering::Relaxed),
                _message: message,
            }))
        }

        pub(in crate::plan) fn bytes(&self) -> &[u8] {
            // SAFETY: `ptr` maps `len` readable bytes until `drop`. Another process writing the
            // file meanwhile changes what is read (see the module docs); cutting it short raises
            // `SIGBUS`, which the handler turns into an error and exit.
            unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
        }
    }

    impl Drop for Map {
        fn drop(&mut self) {
            // A map left to the exit is never read again: no `&[u8]` from `bytes` outlives `self`.
            if !self.leave {
                // SAFETY: unmaps exactly what `of` mapped; no `&[u8]` from `bytes` outlives `self`.
                unsafe {
                    libc::munmap(self.ptr, self.len);
                }
            }
            MAP_START.store(0, Ordering::SeqCst);
            MAP_LEN.store(0, Ordering::SeqCst);
            MESSAGE.store(std::ptr::null_mut(), Ordering::SeqCst);
            MESSAGE_LEN.store(0, Ordering::SeqCst);
            IN_USE.store(false, Ordering::SeqCst);
        }
    }

    /// Installs [`on_sigbus`] once per process.
    fn install_handler() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: a zeroed `sigaction` with a handler of the `SA_SIGINFO` signature, installed
            // for SIGBUS only.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_sigbus as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
            }
        });
    }

    /// A `SIGBUS` inside the live map: the message and exit status 2. Anywhere else: the default
    /// action, as if no handler were installed. Only async-signal-safe calls.
    extern "C" fn on_sigbus(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid `siginfo_t` to an `SA_SIGINFO` handler.
        let addr = unsafe { (*info).si_addr() } as usize;
        let start = MAP_START.load(Ordering::SeqCst);
        let len = MAP_LEN.load(Ordering::SeqCst);
        if start != 0 && addr >= start && addr < start + len {
            let message = MESSAGE.load(Ordering::SeqCst);
            let message_len = MESSAGE_LEN.load(Ordering::SeqCst);
            // SAFETY: `write` and `_exit` are async-signal-safe; the message lives as long as the map.
            unsafe {
                if !message.is_null() {
                    libc::write(2, message.cast(), message_len);
                }
                libc::_exit(2);
            }
        }
        // SAFETY: restoring the default action; returning re-runs the faulting access, which the
        // default action then ends as it would have without this handler.
        unsafe {
            libc::signal(libc::SIGBUS, libc::SIG_DFL);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::plan::load::{load_plan, parse_plan_bytes};
    use std::sync::Mutex;

    /// The handler covers one map at a time; tests that map take turns, so each sees the slot free.
    static MAPPING: Mutex<()> = Mutex::new(());

    fn testdata(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name)
    }

    #[test]
    fn a_mapped_file_holds_the_bytes_a_read_gives_and_a_second_map_is_read() {
        let _turn = MAPPING.lock().unwrap_or_else(|e| e.into_inner());
        let path = testdata("discovery/module_variables.json");
        let read = std::fs::read(&path).unwrap();
        let first = file_bytes(&path, "plan.json", 0).unwrap();
        assert!(matches!(first, FileBytes::Mapped(_)), "mapped at map_min 0");
        assert_eq!(&*first, &read[..]);
        // While the first map lives, the handler cannot cover a second: it is read.
        let second = file_bytes(&path, "plan.json", 0).unwrap();
        assert!(matches!(second, FileBytes::Read(_)));
        assert_eq!(&*second, &read[..]);
        drop(first);
        // Below the size threshold, and for what is not a regular file, it is read.
        assert!(matches!(
            file_bytes(&path, "plan.json", read.len() as u64 + 1).unwrap(),
            FileBytes::Read(_)
        ));
        assert!(matches!(
            file_bytes(Path::new("/dev/null"), "null", 0).unwrap(),
            FileBytes::Read(_)
        ));
        // Once dropped, the slot is free again.
        assert!(matches!(
            file_bytes(&path, "plan.json", 0).unwrap(),
            FileBytes::Mapped(_)
        ));
    }

    #[test]
    fn a_plan_over_the_threshold_loads_as_the_same_plan_read_from_memory() {
        let _turn = MAPPING.lock().unwrap_or_else(|e| e.into_inner());
        // A real plan padded with trailing whitespace past the threshold is still one JSON document.
        let mut text = std::fs::read(testdata("discovery/module_variables.json")).unwrap();
        text.resize(MAP_MIN_BYTES as usize + 4096, b' ');
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        std::fs::write(&path, &text).unwrap();
        let mapped = load_plan(&path).unwrap();
        let read = parse_plan_bytes(&text, &path.display().to_string()).unwrap();
        assert_eq!(format!("{:?}", mapped.plan), format!("{:?}", read.plan));
        assert_eq!(mapped.warnings, read.warnings);
        assert!(
            mapped.plan.resource_changes.total > 0,
            "the plan has resources"
        );
    }

    /// Whether this process maps `path` now (`/proc/self/maps` names each file-backed range).
    fn is_mapped(path: &Path) -> bool {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let name = path.canonicalize().unwrap();
        maps.lines().any(|l| l.ends_with(&*name.to_string_lossy()))
    }

    #[test]
    fn a_map_left_to_the_exit_stays_mapped_and_frees_the_handler() {
        let _turn = MAPPING.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let (kept, left) = (dir.path().join("kept.json"), dir.path().join("left.json"));
        std::fs::write(&kept, b"{}").unwrap();
        std::fs::write(&left, b"{}").unwrap();
        let FileBytes::Mapped(map) = file_bytes(&kept, "kept.json", 0).unwrap() else {
            panic!("mapped at map_min 0");
        };
        assert!(is_mapped(&kept));
        drop(map);
        assert!(!is_mapped(&kept), "the default unmaps");
        let FileBytes::Mapped(mut map) = file_bytes(&left, "left.json", 0).unwrap() else {
            panic!("mapped at map_min 0");
        };
        // As `leave_maps_at_exit` would have made it (that switch is for the whole process).
        map.leave = true;
        drop(map);
        assert!(is_mapped(&left), "left to the exit");
        // The handler no longer covers it: the slot is free for the next map.
        assert!(matches!(
            file_bytes(&kept, "kept.json", 0).unwrap(),
            FileBytes::Mapped(_)
        ));
    }

    /// The child half of the next test: maps the file named by the variable, cuts it short, and
    /// reads its last byte, which raises `SIGBUS`.
    #[test]
    fn a_file_cut_short_while_mapped_ends_with_one_line_error() {
        const CHILD: &str = "IAMTRIM_TEST_SIGBUS_FILE";
        if let Some(path) = std::env::var_os(CHILD) {
            let path = std::path::PathBuf::from(path);
            let bytes = file_bytes(&path, "cut.json", 0).unwrap();
            assert!(matches!(bytes, FileBytes::Mapped(_)));
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(0)
                .unwrap();
            let last = bytes.len() - 1;
            // A volatile read, so the access is not optimized away.
            let byte = unsafe { std::ptr::read_volatile(&bytes[last]) };
            panic!("read {byte} from a file cut short: no SIGBUS");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.json");
        std::fs::write(&path, vec![b' '; 1 << 20]).unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "plan::mapped::tests::a_file_cut_short_while_mapped_ends_with_one_line_error",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, &path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(
            lines,
            [
                "error: cut.json: the file was cut short while it was read; run iamtrim again once whatever writes it is done"
            ]
        );
    }
}
