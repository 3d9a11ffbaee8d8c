#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where ``NARDumper`` sends full buffers. It owns the buffers: it hands out the first one and,
/// for each full one, the next one to fill (the same one again when it consumes synchronously).
protocol NARDumpOutput {
    /// The first buffer to fill.
    mutating func firstBuffer() -> UnsafeMutableRawBufferPointer
    /// Takes the first `count` bytes of `buffer`, and returns the buffer to fill next.
    mutating func consume(_ buffer: UnsafeMutableRawBufferPointer, count: Int) throws -> UnsafeMutableRawBufferPointer
}

/// Serialises a file system tree as a NAR, in constant memory apart from one directory listing
/// per open directory level.
///
/// Tokens and file contents go into one buffer (file contents are `read(2)` straight into it),
/// which is handed to the output whenever it is full, so the output sees few, large chunks
/// regardless of how small the files are. Everything is opened relative to the parent
/// directory's descriptor with `O_NOFOLLOW`; symlinks are read, never followed.
struct NARDumper<Output: NARDumpOutput> {
    /// Reads smaller than this go to a fresh buffer rather than the tail of the current one.
    static var minimumRead: Int { 64 * 1024 }

    private var output: Output
    private var buffer: UnsafeMutableRawBufferPointer
    private var used = 0
    /// Bytes handed to the output so far.
    private(set) var size: UInt64 = 0
    private var linkBuffer = [UInt8](repeating: 0, count: 4096)
    private let rootPath: String
    private var components: [[UInt8]] = []

    init(output: Output, rootPath: String) {
        self.output = output
        self.buffer = self.output.firstBuffer()
        self.rootPath = rootPath
    }

    /// Writes the whole NAR for `rootPath` and flushes it.
    /// - Returns: the output, for the caller to collect results, and the NAR's size.
    consuming func run() throws -> (output: Output, size: UInt64) {
        try append(NARTokens.magic)
        try rootPath.withCString { try dumpNode(parent: AT_FDCWD, name: $0) }
        try flush()
        return (output, size)
    }

    // MARK: Nodes

    private mutating func dumpNode(parent: Int32, name: UnsafePointer<CChar>) throws {
        var info = stat()
        guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { throw systemError("lstat") }
        switch info.st_mode & S_IFMT {
        case S_IFREG: try dumpRegularFile(parent: parent, name: name)
        case S_IFLNK: try dumpSymlink(parent: parent, name: name)
        case S_IFDIR: try dumpDirectory(parent: parent, name: name)
        default: throw NARFileSystemError(.unsupportedFileType, path: currentPath, operation: "lstat")
        }
    }

    private mutating func dumpRegularFile(parent: Int32, name: UnsafePointer<CChar>) throws {
        let fd = openat(parent, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw systemError("open") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw systemError("fstat") }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw NARFileSystemError(.fileChanged, path: currentPath, operation: "fstat")
        }
        let length = UInt64(info.st_size)
        try append(NARTokens.regular)
        if info.st_mode & S_IXUSR != 0 { try append(NARTokens.executableMarker) }
        try append(NARTokens.contents)
        try appendUInt64(length)

        var remaining = length
        while remaining > 0 {
            if buffer.count - used < Int(min(remaining, UInt64(Self.minimumRead))) { try flush() }
            let want = Int(min(UInt64(buffer.count - used), remaining))
            let got = read(fd, buffer.baseAddress! + used, want)
            if got < 0 {
                if errno == EINTR { continue }
                throw systemError("read")
            }
            if got == 0 { throw NARFileSystemError(.fileChanged, path: currentPath, operation: "read: file shrank") }
            used += got
            remaining -= UInt64(got)
        }
        try appendZeros(NARGrammar.paddingLength(length))
        try append(NARTokens.closeParen)
    }

    private mutating func dumpSymlink(parent: Int32, name: UnsafePointer<CChar>) throws {
        while true {
            let count = linkBuffer.withUnsafeMutableBytes { raw in
                readlinkat(parent, name, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
            }
            guard count >= 0 else { throw systemError("readlink") }
            if count == linkBuffer.count {
                linkBuffer = [UInt8](repeating: 0, count: linkBuffer.count * 2)
                continue
            }
            try append(NARTokens.symlink)
            try linkBuffer.withUnsafeBytes { try appendString(UnsafeRawBufferPointer(rebasing: $0[0 ..< count])) }
            try append(NARTokens.closeParen)
            return
        }
    }

    private mutating func dumpDirectory(parent: Int32, name: UnsafePointer<CChar>) throws {
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw systemError("open") }
        defer { close(fd) }
        let names: [[UInt8]]
        switch NARFileSystem.sortedNames(inDirectory: fd) {
        case .success(let sorted): names = sorted
        case .failure(let code): throw NARFileSystemError(.systemCallFailed, path: currentPath, operation: "readdir", errno: code.code)
        }
        try append(NARTokens.directory)
        for child in names {
            try append(NARTokens.entryName)
            try child.withUnsafeBytes { try appendString($0) }
            try append(NARTokens.node)
            components.append(child)
            try NARFileSystem.withCString(child) { try dumpNode(parent: fd, name: $0) }
            components.removeLast()
            try append(NARTokens.closeParen)
        }
        try append(NARTokens.closeParen)
    }

    // MARK: Buffer

    private mutating func flush() throws {
        guard used > 0 else { return }
        size += UInt64(used)
        buffer = try output.consume(buffer, count: used)
        used = 0
    }

    @inline(__always)
    private mutating func append(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            if used == buffer.count { try flush() }
            let take = min(rest.count, buffer.count - used)
            (buffer.baseAddress! + used).copyMemory(from: rest.baseAddress!, byteCount: take)
            used += take
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
        }
    }

    @inline(__always)
    private mutating func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }

    private mutating func appendUInt64(_ value: UInt64) throws {
        try withUnsafeBytes(of: value.littleEndian) { try append($0) }
    }

    private mutating func appendZeros(_ count: Int) throws {
        try withUnsafeBytes(of: UInt64(0)) { try append(UnsafeRawBufferPointer(rebasing: $0[0 ..< count])) }
    }

    private mutating func appendString(_ bytes: UnsafeRawBufferPointer) throws {
        try appendUInt64(UInt64(bytes.count))
        try append(bytes)
        try appendZeros(NARGrammar.paddingLength(UInt64(bytes.count)))
    }

    // MARK: Errors

    private var currentPath: String {
        var path = rootPath
        for component in components {
            if !path.hasSuffix("/") { path += "/" }
            path += String(decoding: component, as: UTF8.self)
        }
        return path
    }

    private func systemError(_ operation: String) -> NARFileSystemError {
        NARFileSystemError(.systemCallFailed, path: currentPath, operation: operation, errno: errno)
    }
}

/// Pre-encoded token sequences, so the writer copies them in one piece.
enum NARTokens {
    static func encode(_ tokens: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for token in tokens {
            withUnsafeBytes(of: UInt64(token.count).littleEndian) { out.append(contentsOf: $0) }
            out.append(contentsOf: token)
            out.append(contentsOf: repeatElement(0, count: NARGrammar.paddingLength(UInt64(token.count))))
        }
        return out
    }

    static let magic = encode([NARGrammar.magic])
    static let regular = encode([NARGrammar.openParen, NARGrammar.type, NARGrammar.regular])
    static let executableMarker = encode([NARGrammar.executable, []])
    static let contents = encode([NARGrammar.contents])
    static let symlink = encode([NARGrammar.openParen, NARGrammar.type, NARGrammar.symlink, NARGrammar.target])
    static let directory = encode([NARGrammar.openParen, NARGrammar.type, NARGrammar.directory])
    static let entryName = encode([NARGrammar.entry, NARGrammar.openParen, NARGrammar.name])
    static let node = encode([NARGrammar.node])
    static let closeParen = encode([NARGrammar.closeParen])
}

/// Sends each full buffer to a caller's closure; uses one buffer throughout.
struct NARSinkOutput: NARDumpOutput {
    let storage: UnsafeMutableRawBufferPointer
    let sink: (UnsafeRawBufferPointer) throws -> Void

    func firstBuffer() -> UnsafeMutableRawBufferPointer { storage }

    func consume(_ buffer: UnsafeMutableRawBufferPointer, count: Int) throws -> UnsafeMutableRawBufferPointer {
        try sink(UnsafeRawBufferPointer(rebasing: buffer[0 ..< count]))
        return buffer
    }
}

extension NAR {
    /// Size of the buffer the writer fills before handing bytes on.
    static var dumpBufferSize: Int { 1 << 20 }

    /// Streams the NAR serialisation of the file system object at `path` to `sink`.
    ///
    /// Handles regular files (executable or not), symlinks and directories; directory entries
    /// are sorted bytewise (unsigned) on their raw name bytes. Uses `lstat` semantics throughout:
    /// a symlink, even at `path` itself, is stored as a symlink and never followed. Memory use is
    /// constant (one 1 MiB buffer) apart from one directory listing per open directory level.
    ///
    /// - Parameters:
    ///   - path: the file, symlink or directory to serialise.
    ///   - sink: receives the NAR in order, in chunks of up to 1 MiB. A chunk is only valid
    ///     during the call.
    /// - Throws: ``NARFileSystemError`` naming the file system path that could not be read or
    ///   has an unsupported type (socket, FIFO, device), or whatever `sink` throws.
    public static func dump(path: String, into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: dumpBufferSize, alignment: 64)
        defer { storage.deallocate() }
        try withoutActuallyEscaping(sink) { sink in
            _ = try NARDumper(output: NARSinkOutput(storage: storage, sink: sink), rootPath: path).run()
        }
    }

    /// The NAR serialisation of the file system object at `path`, in memory.
    /// - Parameter path: the file, symlink or directory to serialise.
    /// - Returns: the NAR bytes.
    /// - Throws: like ``dump(path:into:)``.
    public static func dump(path: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try dump(path: path) { bytes.append(contentsOf: $0) }
        return bytes
    }
}
