#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Buffered standard output and one-line stderr diagnostics.
enum Output {
    private static let capacity = 1 << 16
    /// The CLI writes from one task at a time; this buffer is never touched concurrently.
    nonisolated(unsafe) private static var buffer: [UInt8] = {
        var b = [UInt8]()
        b.reserveCapacity(capacity)
        return b
    }()

    static func out(_ text: String) {
        var text = text
        text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    static func write(_ bytes: UnsafeRawBufferPointer) {
        if buffer.count + bytes.count > capacity { flush() }
        if bytes.count >= capacity {
            writeAll(fd: 1, bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    static func flush() {
        guard !buffer.isEmpty else { return }
        buffer.withUnsafeBytes { writeAll(fd: 1, $0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private static func writeAll(fd: Int32, _ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                if fd == 1 {
                    error("cannot write to standard output: \(String(cString: strerror(errno)))")
                    Glibc.exit(ExitCodes.badInput)
                }
                return
            }
            offset += n
        }
    }

    /// Prints `vouch: <message>` as one line on stderr.
    static func error(_ message: String) {
        flush()
        var line = "vouch: "
        for char in message { line.append(char == "\n" ? " " : char) }
        while line.hasSuffix(" ") { line.removeLast() }
        line += "\n"
        line.withUTF8 { writeAll(fd: 2, UnsafeRawBufferPointer($0)) }
    }
}
