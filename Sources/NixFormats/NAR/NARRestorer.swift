#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A ``NARVisitor`` that recreates the archive under a destination path.
///
/// Safety: the root is created at `destination` with exclusive-create semantics; everything
/// below it is created relative to the descriptor of a directory this restorer itself created
/// and opened with `O_NOFOLLOW`, by name (`mkdirat`, `openat(O_CREAT | O_EXCL | O_NOFOLLOW)`,
/// `symlinkat`). No path is ever resolved through a symlink from the archive, and names reach
/// this type already checked by ``NARDecoder`` (no `/`, `.`, `..`, NUL; no duplicates), so
/// nothing can be created outside `destination`.
///
/// Modes: directories 0o755, executable files 0o755, other files 0o644, set with `fchmod` so the
/// umask does not change them. Canonicalising permissions for a store is a later step.
struct NARRestorer: NARVisitor {
    private let destination: String
    /// Open directories, outermost first; the last one is where the next node goes.
    private var directories: [Int32] = []
    /// The name of the entry whose node comes next.
    private var pendingName: [UInt8] = []
    /// Names from the root to the current node, for error messages.
    private var components: [[UInt8]] = []
    private var file: Int32 = -1
    /// Whether `destination` has been created (and so must be removed on failure).
    private(set) var createdRoot = false

    init(destination: String) {
        self.destination = destination
    }

    /// Closes every descriptor still open (after an error).
    mutating func closeAll() {
        if file >= 0 { close(file) }
        file = -1
        for fd in directories { close(fd) }
        directories.removeAll()
    }

    /// The directory and name where the next node is created.
    private var location: (parent: Int32, name: [UInt8]) {
        if let parent = directories.last { return (parent, pendingName) }
        return (AT_FDCWD, Array(destination.utf8))
    }

    mutating func enterDirectory() throws {
        let (parent, name) = location
        let isRoot = directories.isEmpty
        let created = NARFileSystem.withCString(name) { mkdirat(parent, $0, 0o755) == 0 }
        guard created else { throw creationError("mkdir") }
        if isRoot { createdRoot = true }
        let fd = NARFileSystem.withCString(name) { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else { throw creationError("open") }
        directories.append(fd)
        guard fchmod(fd, 0o755) == 0 else { throw creationError("fchmod") }
    }

    mutating func exitDirectory() throws {
        close(directories.removeLast())
    }

    mutating func enterEntry(name: [UInt8]) throws {
        pendingName = name
        components.append(name)
    }

    mutating func exitEntry() throws {
        components.removeLast()
    }

    mutating func beginRegularFile(executable: Bool, size: UInt64) throws {
        let mode: mode_t = executable ? 0o755 : 0o644
        let (parent, name) = location
        let fd = NARFileSystem.withCString(name) {
            openat(parent, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode)
        }
        guard fd >= 0 else { throw creationError("open") }
        if directories.isEmpty { createdRoot = true }
        file = fd
        guard fchmod(fd, mode) == 0 else { throw creationError("fchmod") }
    }

    mutating func regularFileContents(_ chunk: UnsafeRawBufferPointer) throws {
        let failure = NARFileSystem.writeAll(file, chunk)
        guard failure == 0 else { throw NARFileSystemError(.systemCallFailed, path: currentPath, operation: "write", errno: failure) }
    }

    mutating func endRegularFile() throws {
        let fd = file
        file = -1
        guard close(fd) == 0 else { throw creationError("close") }
    }

    mutating func symlink(target: [UInt8]) throws {
        let (parent, name) = location
        let created = NARFileSystem.withCString(target) { target in
            NARFileSystem.withCString(name) { symlinkat(target, parent, $0) == 0 }
        }
        guard created else { throw creationError("symlink") }
        if directories.isEmpty { createdRoot = true }
    }

    private var currentPath: String {
        var path = destination
        for component in components {
            if !path.hasSuffix("/") { path += "/" }
            path += String(decoding: component, as: UTF8.self)
        }
        return path
    }

    private func creationError(_ operation: String) -> NARFileSystemError {
        let code = errno
        if directories.isEmpty && code == EEXIST {
            return NARFileSystemError(.destinationExists, path: destination, operation: operation, errno: code)
        }
        return NARFileSystemError(.systemCallFailed, path: currentPath, operation: operation, errno: code)
    }
}

extension NAR {
    /// Reads a NAR from `read`, validates it strictly and recreates it at `destination`.
    ///
    /// `destination` must not exist; its parent must. Nothing is ever created outside
    /// `destination`: see the safety notes on the restorer (names are checked before use, and
    /// all creation is relative to directories this call created, never through symlinks).
    /// Directories and executables get mode 0o755, other files 0o644.
    ///
    /// On any error — a broken NAR rule, a failed system call, or an error from `read` — the
    /// partial tree at `destination` is removed (without following symlinks) before the error
    /// is rethrown; a destination that already existed is left alone.
    ///
    /// - Parameters:
    ///   - destination: the path to create.
    ///   - read: fills the buffer it is given with the next bytes of the stream and returns how
    ///     many it wrote; 0 means the end of the stream.
    /// - Throws: ``NARError`` for an invalid stream, ``NARFileSystemError`` (code
    ///   ``NARFileSystemError/Code/destinationExists`` if `destination` exists), or whatever
    ///   `read` throws.
    public static func restore(to destination: String, reading read: (UnsafeMutableRawBufferPointer) throws -> Int) throws {
        var info = stat()
        if lstat(destination, &info) == 0 {
            throw NARFileSystemError(.destinationExists, path: destination, operation: "lstat", errno: EEXIST)
        }
        var restorer = NARRestorer(destination: destination)
        do {
            _ = try decode(reading: read, into: &restorer)
        } catch {
            restorer.closeAll()
            if restorer.createdRoot {
                destination.withCString { NARFileSystem.removeTree(parent: AT_FDCWD, name: $0) }
            }
            throw error
        }
        restorer.closeAll()
    }

    /// Restores an in-memory NAR; see ``restore(to:reading:)``.
    /// - Parameters:
    ///   - destination: the path to create; must not exist.
    ///   - bytes: the whole NAR.
    /// - Throws: like ``restore(to:reading:)``.
    public static func restore(to destination: String, bytes: [UInt8]) throws {
        var position = 0
        try restore(to: destination) { buffer in
            let count = min(buffer.count, bytes.count - position)
            bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[position ..< position + count])) }
            position += count
            return count
        }
    }
}
