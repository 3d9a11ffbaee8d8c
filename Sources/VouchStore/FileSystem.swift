#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The POSIX calls the blob store makes, retried on `EINTR` and turned into ``StoreError/io(path:operation:errno:)``.
enum FileSystem {
    /// Calls `body` until it does not fail with `EINTR`; a negative result becomes an error.
    @discardableResult
    static func retrying<T: BinaryInteger>(_ path: String, _ operation: String, _ body: () -> T) throws(StoreError) -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            if errno == EINTR { continue }
            throw .io(path: path, operation: operation, errno: errno)
        }
    }

    /// Creates and opens a new file for writing; fails if it exists.
    static func createExclusive(_ path: String, mode: mode_t = 0o644) throws(StoreError) -> Int32 {
        try retrying(path, "create") { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode) }
    }

    /// Writes all of `bytes`, continuing after short writes.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(StoreError) {
        guard var pointer = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = try retrying(path, "write") { write(fd, pointer, remaining) }
            pointer += written
            remaining -= written
        }
    }

    static func sync(_ fd: Int32, path: String) throws(StoreError) {
        try retrying(path, "fsync") { fsync(fd) }
    }

    /// Closes `fd` (never retried: on Linux the descriptor is gone even after `EINTR`).
    static func close(_ fd: Int32, path: String) throws(StoreError) {
        if closeDescriptor(fd) != 0 && errno != EINTR { throw .io(path: path, operation: "close", errno: errno) }
    }

    private static func closeDescriptor(_ fd: Int32) -> Int32 {
        #if canImport(Glibc)
        Glibc.close(fd)
        #else
        Darwin.close(fd)
        #endif
    }

    /// Syncs a directory, making the entries created or removed in it durable.
    static func syncDirectory(_ path: String) throws(StoreError) {
        let fd = try retrying(path, "open directory") { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { _ = closeDescriptor(fd) }
        try sync(fd, path: path)
    }

    /// Creates directory `path` if missing; returns whether it was created (then the caller syncs the parent).
    @discardableResult
    static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(StoreError) -> Bool {
        if mkdir(path, mode) == 0 { return true }
        let error = errno
        guard error == EEXIST else { throw .io(path: path, operation: "mkdir", errno: error) }
        guard kind(of: path) == .directory else { throw .io(path: path, operation: "mkdir (exists and is not a directory)", errno: ENOTDIR) }
        return false
    }

    /// Creates `path` and any missing parents, syncing each parent that gained an entry.
    static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(StoreError) {
        if kind(of: path) == .directory { return }
        let parent = parentDirectory(of: path)
        if parent != path, !parent.isEmpty { try makeDirectories(parent, mode: mode) }
        if try makeDirectory(path, mode: mode) { try syncDirectory(parent.isEmpty ? "." : parent) }
    }

    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    enum Kind { case missing, file, directory, other }

    /// What is at `path` (symbolic links not followed).
    static func kind(of path: String) -> Kind {
        var info = stat()
        guard lstat(path, &info) == 0 else { return .missing }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    /// Size and modification time of a regular file; nil if missing or not a regular file.
    static func fileStatus(_ path: String) throws(StoreError) -> (size: UInt64, modified: Int64)? {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw .io(path: path, operation: "stat", errno: errno)
        }
        guard info.st_mode & S_IFMT == S_IFREG else { return nil }
        #if canImport(Glibc)
        let modified = Int64(info.st_mtim.tv_sec)
        #else
        let modified = Int64(info.st_mtimespec.tv_sec)
        #endif
        return (UInt64(info.st_size), modified)
    }

    /// Removes a file; a missing file is not an error.
    static func removeFile(_ path: String) throws(StoreError) {
        if unlink(path) != 0 && errno != ENOENT { throw .io(path: path, operation: "unlink", errno: errno) }
    }

    /// Names in directory `path`, without `.` and `..`.
    static func entries(of path: String) throws(StoreError) -> [String] {
        guard let dir = opendir(path) else { throw .io(path: path, operation: "opendir", errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
