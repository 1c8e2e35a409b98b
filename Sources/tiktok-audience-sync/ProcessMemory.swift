#if canImport(Glibc)
import CMalloc
#endif

/// Keeps the process's memory flat whatever the file size.
enum ProcessMemory {
    /// glibc gives each thread that allocates its own malloc arena; memory freed in one arena is not
    /// reused by another, so the sender's concurrent tasks grew the heap by ~30 MB on a 2M-row file
    /// (Benchmarks/README.md). One arena costs no measurable speed here.
    static func useOneMallocArena() {
        #if canImport(Glibc)
        _ = mallopt(M_ARENA_MAX, 1)
        #endif
    }
}
