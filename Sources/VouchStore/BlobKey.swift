/// Rules for ``BlobStore`` keys: one or two `/`-separated segments (`nar/<file>`, `log/<drv>`),
/// each 1…255 bytes of `[A-Za-z0-9+._=-]`, neither `.` nor `..`, at most 512 bytes in all, and not
/// under the reserved `tmp` directory. So a key can never name a path outside the blob root, a
/// temporary upload, or a directory the store manages.
enum BlobKey {
    static let maximumLength = 512
    static let maximumSegmentLength = 255
    static let maximumSegments = 2
    /// Directory of pending uploads inside the blob root.
    static let temporaryDirectory = "tmp"

    /// The segments of `key`, or ``StoreError/invalidKey(_:reason:)`` saying which rule it breaks.
    static func segments(of key: String) throws(StoreError) -> [Substring] {
        func invalid(_ reason: String) -> StoreError { .invalidKey(key, reason: reason) }
        guard !key.isEmpty else { throw invalid("empty") }
        guard key.utf8.count <= maximumLength else { throw invalid("longer than \(maximumLength) bytes") }
        guard !key.hasPrefix("/") else { throw invalid("absolute") }
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count <= maximumSegments else { throw invalid("more than \(maximumSegments) path segments") }
        for segment in segments {
            guard !segment.isEmpty else { throw invalid("empty path segment") }
            guard segment != ".", segment != ".." else { throw invalid("'\(segment)' segment") }
            guard segment.utf8.count <= maximumSegmentLength else { throw invalid("segment longer than \(maximumSegmentLength) bytes") }
            for byte in segment.utf8 where !isAllowed(byte) {
                throw invalid("byte 0x\(String(byte, radix: 16)) is not in [A-Za-z0-9+._=-]")
            }
        }
        guard segments[0] != temporaryDirectory else { throw invalid("'\(temporaryDirectory)' is reserved for uploads in progress") }
        return segments
    }

    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "="), UInt8(ascii: "-"): true
        default: false
        }
    }
}
