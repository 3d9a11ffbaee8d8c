#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A NAR stream broke one of the rules in ``NARGrammar``.
///
/// Equality and hashing use only ``code``, so tests and callers compare codes; ``offset`` and
/// ``path`` say where, and ``description`` is one line for humans.
public struct NARError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The rule that was broken.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The stream does not start with `str("nix-archive-1")`.
        case badMagic
        /// A control token is not the one the grammar allows at that place.
        case unexpectedToken
        /// A control token's declared length exceeds ``NARGrammar/maximumTokenLength``.
        case tokenTooLong
        /// A padding byte is not zero.
        case nonZeroPadding
        /// The stream ended before the root node was complete.
        case truncated
        /// Bytes follow the root node.
        case trailingBytes
        /// The value after `executable` is not the empty string.
        case nonEmptyExecutableMarker
        /// An entry name is empty, `.`, `..`, or contains `/` or NUL.
        case invalidEntryName
        /// An entry name's declared length exceeds ``NARGrammar/maximumNameLength``.
        case nameTooLong
        /// An entry name is not greater than the previous one in its directory.
        case entriesNotSorted
        /// An entry name equals the previous one in its directory.
        case duplicateEntry
        /// A symlink target is empty or contains NUL.
        case invalidSymlinkTarget
        /// A symlink target's declared length exceeds ``NARGrammar/maximumTargetLength``.
        case targetTooLong
        /// Entries are nested deeper than ``NARGrammar/maximumDepth``.
        case tooDeep
    }

    /// The rule that was broken.
    public let code: Code
    /// Byte offset in the NAR stream of the offending string (its length field) or byte.
    public let offset: UInt64
    /// Path inside the archive of the node being read: `/` for the root, `/sub/dir` below it.
    public let path: String
    /// What exactly was wrong, for ``description``.
    public let detail: String

    init(_ code: Code, at offset: UInt64, path: String, _ detail: String) {
        self.code = code
        self.offset = offset
        self.path = path
        self.detail = detail
    }

    /// One line, e.g. `invalid NAR at byte 136 (/a/b): entry names not sorted: "b" after "c"`.
    public var description: String {
        "invalid NAR at byte \(offset) (\(path)): \(detail)"
    }

    public static func == (lhs: NARError, rhs: NARError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

/// A file system operation failed while dumping or restoring a NAR.
public struct NARFileSystemError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The object is not a regular file, directory or symlink (a socket, FIFO, device…).
        case unsupportedFileType
        /// The restore destination already exists.
        case destinationExists
        /// A file's size changed while it was being dumped.
        case fileChanged
        /// A system call failed; see ``operation`` and ``errno``.
        case systemCallFailed
    }

    /// What went wrong.
    public let code: Code
    /// The file system path concerned.
    public let path: String
    /// The system call or step that failed, e.g. `lstat`.
    public let operation: String
    /// The `errno` value, or 0 when no system call failed.
    public let errno: Int32

    init(_ code: Code, path: String, operation: String, errno: Int32 = 0) {
        self.code = code
        self.path = path
        self.operation = operation
        self.errno = errno
    }

    /// One line, e.g. `/tmp/x/fifo: unsupported file type (lstat)`.
    public var description: String {
        switch code {
        case .unsupportedFileType: "\(path): not a regular file, directory or symlink (\(operation))"
        case .destinationExists: "\(path): restore destination already exists"
        case .fileChanged: "\(path): file changed while being read (\(operation))"
        case .systemCallFailed: "\(path): \(operation) failed: \(Self.message(errno)) (errno \(errno))"
        }
    }

    private static func message(_ errno: Int32) -> String {
        guard let text = strerror(errno) else { return "unknown error" }
        return String(cString: text)
    }

    public static func == (lhs: NARFileSystemError, rhs: NARFileSystemError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
