//! The frames pprof drops from legacy profiles (`drop_frames`, `keep_frames`),
//! chosen by the sample types: allocator frames for heap profiles, lock
//! bookkeeping for contention profiles, the CPU profiler's signal handler
//! otherwise.

/// Allocation routines (libc, tcmalloc, macOS zones, the Go runtime, C++).
const ALLOC: &[&str] = &[
    "calloc",
    "cfree",
    "malloc",
    "free",
    "memalign",
    "do_memalign",
    "(__)?posix_memalign",
    "pvalloc",
    "valloc",
    "realloc",
    "tcmalloc::.*",
    "tc_calloc",
    "tc_cfree",
    "tc_malloc",
    "tc_free",
    "tc_memalign",
    "tc_posix_memalign",
    "tc_pvalloc",
    "tc_valloc",
    "tc_realloc",
    "tc_new",
    "tc_delete",
    "tc_newarray",
    "tc_deletearray",
    "tc_new_nothrow",
    "tc_newarray_nothrow",
    "malloc_zone_malloc",
    "malloc_zone_calloc",
    "malloc_zone_valloc",
    "malloc_zone_realloc",
    "malloc_zone_memalign",
    "malloc_zone_free",
    r"runtime\..*",
    "BaseArena::.*",
    "(::)?do_malloc_no_errno",
    "(::)?do_malloc_pages",
    "(::)?do_malloc",
    "DoSampledAllocation",
    "MallocedMemBlock::MallocedMemBlock",
    "_M_allocate",
    "__builtin_(vec_)?delete",
    "__builtin_(vec_)?new",
    "__gnu_cxx::new_allocator::allocate",
    "__libc_malloc",
    "__malloc_alloc_template::allocate",
    "allocate",
    "cpp_alloc",
    r"operator new(\[\])?",
    "simple_alloc::allocate",
];

/// Go runtime frames kept in the middle of heap stacks.
const ALLOC_KEEP: &[&str] = &[r"runtime\.panic", r"runtime\.reflectcall", r"runtime\.call[0-9]*"];

/// The CPU profiler's own frames.
const CPU: &[&str] = &[
    "ProfileData::Add",
    "ProfileData::prof_handler",
    "CpuProfiler::prof_handler",
    "__pthread_sighandler",
    "__restore",
];

/// Lock profiling's own frames.
const LOCK: &[&str] = &[
    "RecordLockProfileData",
    "(base::)?RecordLockProfileData.*",
    "(base::)?SubmitMutexProfileData.*",
    "(base::)?SubmitSpinLockProfileData.*",
    "(base::Mutex::)?AwaitCommon.*",
    "(base::Mutex::)?Unlock.*",
    "(base::Mutex::)?UnlockSlow.*",
    "(base::Mutex::)?ReaderUnlock.*",
    "(base::MutexLock::)?~MutexLock.*",
    "(Mutex::)?AwaitCommon.*",
    "(Mutex::)?Unlock.*",
    "(Mutex::)?UnlockSlow.*",
    "(Mutex::)?ReaderUnlock.*",
    "(MutexLock::)?~MutexLock.*",
    "(SpinLock::)?Unlock.*",
    "(SpinLock::)?SlowUnlock.*",
    "(SpinLockHolder::)?~SpinLockHolder.*",
];

/// Sample types of heap profiles.
const HEAP_TYPES: &[&[&str]] = &[
    &["allocations", "size"],
    &["objects", "space"],
    &["inuse_objects", "inuse_space"],
    &["alloc_objects", "alloc_space"],
    &["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"],
];

/// `(drop_frames, keep_frames)` for a profile of these sample types.
pub(crate) fn for_types(types: &[&str]) -> (&'static str, &'static str) {
    static ALL: std::sync::OnceLock<[String; 4]> = std::sync::OnceLock::new();
    let [alloc, keep, lock, cpu] =
        ALL.get_or_init(|| [ALLOC.join("|"), ALLOC_KEEP.join("|"), LOCK.join("|"), CPU.join("|")]);
    if HEAP_TYPES.contains(&types) {
        (alloc, keep)
    } else if types == ["contentions", "delay"] {
        (lock, "")
    } else {
        (cpu, "")
    }
}
