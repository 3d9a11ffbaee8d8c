/// A storage failure, with enough context to act on.
public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A write disagrees with a stored item. Recorded in the conflict log before being thrown.
    case conflict(kind: String, key: String, detail: String)
    /// A blob key or identifier that can never be valid.
    case invalidKey(String, reason: String)
    /// A system call failed on `path`.
    case io(path: String, operation: String, errno: Int32)
    /// SQLite (or another engine) failed.
    case database(code: Int32, message: String, statement: String)
    /// Stored data does not parse; names the row or file.
    case corrupt(what: String, reason: String)

    public var description: String {
        switch self {
        case let .conflict(kind, key, detail): "\(kind) \(key) conflicts with the stored one: \(detail)"
        case let .invalidKey(key, reason): "invalid key '\(key)': \(reason)"
        case let .io(path, operation, errno): "\(operation) \(path): \(String(cString: strerror(errno)))"
        case let .database(code, message, statement): "database error \(code) (\(message)) in: \(statement)"
        case let .corrupt(what, reason): "stored \(what) is corrupt: \(reason)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
