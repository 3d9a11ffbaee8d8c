#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Small wrappers over the POSIX calls that dump and restore share. Everything works relative to
/// directory file descriptors and never follows symlinks.
enum NARFileSystem {
    /// An `errno` value as an `Error`, for `Result`.
    struct Errno: Error {
        let code: Int32
    }

    /// Calls `body` with `bytes` as a NUL-terminated C string. `bytes` must not contain NUL.
    @inline(__always)
    static func withCString<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        var terminated = bytes
        terminated.append(0)
        return try terminated.withUnsafeBytes { raw in
            try body(raw.baseAddress!.assumingMemoryBound(to: CChar.self))
        }
    }

    /// The names in the open directory `fd` except `.` and `..`, sorted bytewise (unsigned).
    /// `fd` stays open and usable.
    static func sortedNames(inDirectory fd: Int32) -> Result<[[UInt8]], Errno> {
        let copy = dup(fd)
        guard copy >= 0 else { return .failure(Errno(code: errno)) }
        guard let dir = fdopendir(copy) else {
            let saved = errno
            close(copy)
            return .failure(Errno(code: saved))
        }
        defer { closedir(dir) }
        rewinddir(dir)
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { return .failure(Errno(code: errno)) }
                break
            }
            let name: [UInt8] = withUnsafePointer(to: &entry.pointee.d_name) { tuple in
                let start = UnsafeRawPointer(tuple).assumingMemoryBound(to: UInt8.self)
                return Array(UnsafeBufferPointer(start: start, count: strlen(UnsafeRawPointer(tuple).assumingMemoryBound(to: CChar.self))))
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
        }
        names.sort { $0.lexicographicallyPrecedes($1) }
        return .success(names)
    }

    /// Removes `name` in directory `parent` and, if it is a directory, everything below it,
    /// without following symlinks. Best effort: failures are ignored.
    static func removeTree(parent: Int32, name: UnsafePointer<CChar>) {
        var info = stat()
        guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 {
                if case .success(let names) = sortedNames(inDirectory: fd) {
                    for child in names {
                        withCString(child) { removeTree(parent: fd, name: $0) }
                    }
                }
                close(fd)
            }
            unlinkat(parent, name, AT_REMOVEDIR)
        } else {
            unlinkat(parent, name, 0)
        }
    }

    /// Writes all of `buffer` to `fd`, retrying short writes and `EINTR`.
    /// - Returns: 0, or the `errno` of the failed write.
    static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Int32 {
        var done = 0
        while done < buffer.count {
            let written = write(fd, buffer.baseAddress! + done, buffer.count - done)
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            done += written
        }
        return 0
    }
}
