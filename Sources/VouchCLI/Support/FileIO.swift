#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An operating-system call that failed on a named file.
struct POSIXFailure: Error, CustomStringConvertible {
    let path: String
    let operation: String
    let code: Int32
    var description: String { "cannot \(operation) '\(path)': \(String(cString: strerror(code)))" }
}

enum FileIO {
    /// Largest file `read(path:)` loads into memory.
    static let maximumFileSize = 1 << 30

    static func read(path: String, limit: Int = maximumFileSize) throws -> [UInt8] {
        try read(name: path, in: AT_FDCWD, path: path, limit: limit)
    }

    /// Reads `name` relative to the open directory `directory` (`path` names the file in errors):
    /// opening by a short name skips looking up the directory's path again for each file.
    static func read(name: String, in directory: Int32, path: String, limit: Int = maximumFileSize) throws -> [UInt8] {
        let fd = openat(directory, name, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXFailure(path: path, operation: "open", code: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw POSIXFailure(path: path, operation: "stat", code: errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw CLIError("'\(path)' is not a regular file") }
        guard Int(info.st_size) <= limit else { throw CLIError("'\(path)' is larger than \(limit) bytes") }
        // Read size + 1 bytes so a file that grew since fstat is noticed; grow only in that rare case.
        var capacity = Int(info.st_size) + 1
        var result = [UInt8]()
        while true {
            let start = result.count
            var failure: Int32 = 0
            let chunk = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
                count = 0
                while count < buffer.count {
                    let n = Glibc.read(fd, buffer.baseAddress! + count, buffer.count - count)
                    if n < 0 {
                        if errno == EINTR { continue }
                        failure = errno
                        return
                    }
                    if n == 0 { break }
                    count += n
                }
            }
            if failure != 0 { throw POSIXFailure(path: path, operation: "read", code: failure) }
            if start == 0 { result = chunk } else { result.append(contentsOf: chunk) }
            guard result.count <= limit else { throw CLIError("'\(path)' is larger than \(limit) bytes") }
            if chunk.count < capacity { return result }
            capacity = max(capacity, 1 << 16)
        }
    }

    static func readText(path: String, limit: Int = maximumFileSize) throws -> String {
        let bytes = try read(path: path, limit: limit)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw CLIError("'\(path)' is not valid UTF-8") }
        return text
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Writes `bytes` to a new file at `path` (fails if it exists) with `mode`, then fsyncs it.
    static func create(path: String, bytes: [UInt8], mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw POSIXFailure(path: path, operation: "create", code: errno) }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw POSIXFailure(path: path, operation: "write", code: errno)
            }
            written += n
        }
        guard fsync(fd) == 0 else { throw POSIXFailure(path: path, operation: "sync", code: errno) }
    }

    static func baseName(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
    }

    static func directory(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Creates `path` and missing parents (mode 0755).
    static func makeDirectory(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw POSIXFailure(path: current, operation: "create directory", code: errno)
            }
        }
    }

    /// Writes `bytes` to a temporary file beside `path`, fsyncs it, renames it into place and
    /// fsyncs the directory: readers see the old file or the complete new one, never a part.
    static func writeAtomically(path: String, bytes: [UInt8], mode: mode_t = 0o644) throws {
        let temporary = "\(path).tmp-\(getpid())"
        try? remove(temporary)
        try create(path: temporary, bytes: bytes, mode: mode)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw POSIXFailure(path: path, operation: "rename into", code: code)
        }
        let dir = open(directory(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 { _ = fsync(dir); close(dir) }
    }

    private static func remove(_ path: String) throws { unlink(path) }

    /// Regular files below `directory`, recursively, sorted (symlinks are not followed).
    static func files(under directory: String) throws -> [String] {
        guard let dir = opendir(directory) else { throw POSIXFailure(path: directory, operation: "open directory", code: errno) }
        defer { closedir(dir) }
        var result: [String] = []
        var subdirectories: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name == "." || name == ".." { continue }
            let path = "\(directory)/\(name)"
            // The entry's type from readdir where the file system gives it; lstat otherwise.
            var type = entry.pointee.d_type
            if type == UInt8(DT_UNKNOWN) {
                var info = stat()
                guard lstat(path, &info) == 0 else { continue }
                type = (info.st_mode & S_IFMT) == S_IFDIR ? UInt8(DT_DIR) : (info.st_mode & S_IFMT) == S_IFREG ? UInt8(DT_REG) : UInt8(DT_UNKNOWN)
            }
            if type == UInt8(DT_DIR) { subdirectories.append(path) } else if type == UInt8(DT_REG) { result.append(path) }
        }
        for path in subdirectories { result.append(contentsOf: try files(under: path)) }
        return result.sorted()
    }
}
