#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall-clock time without Foundation.
public enum SystemClock {
    /// Whole seconds since 1970-01-01 UTC.
    public static func secondsSince1970() -> Int64 { Int64(time(nil)) }
}
