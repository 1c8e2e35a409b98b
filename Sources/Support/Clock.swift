import Glibc

/// Seconds since 1970, the clock the ledger's times and TikTok's request times are in.
package func clockSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
