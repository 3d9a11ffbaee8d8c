import NIOConcurrencyHelpers
import NIOCore
import NixFormats

/// The narinfo bytes as served (with the server's signature, if any, already added), by hash
/// part, in front of the store: a hit answers a GET without touching the database.
///
/// Bounded: when full, an arbitrary entry is dropped. Entries are replaced after every successful
/// write through this server, so a merge is visible at once. (Writes by another process sharing
/// the database are seen once the entry is evicted.)
final class NARInfoCache: Sendable {
    private let entries: NIOLockedValueBox<[String: ByteBuffer]>
    let capacity: Int
    let signingKey: NixSecretKey?

    init(capacity: Int, signingKey: NixSecretKey?) {
        self.capacity = max(1, capacity)
        self.signingKey = signingKey
        entries = NIOLockedValueBox([:])
    }

    func lookup(_ hashPart: String) -> ByteBuffer? {
        entries.withLockedValue { $0[hashPart] }
    }

    /// Renders `info` as served, remembers it, and returns it.
    @discardableResult
    func store(_ info: NARInfo) -> ByteBuffer {
        let bytes = ByteBuffer(string: render(info))
        let hashPart = info.storePath.hashPart
        entries.withLockedValue { entries in
            if entries.count >= capacity, entries[hashPart] == nil, let victim = entries.keys.first {
                entries[victim] = nil
            }
            entries[hashPart] = bytes
        }
        return bytes
    }

    func forget(_ hashPart: String) {
        _ = entries.withLockedValue { $0.removeValue(forKey: hashPart) }
    }

    /// The text served for `info`: stored signatures plus the server's own.
    func render(_ info: NARInfo) -> String {
        guard let signingKey else { return info.text }
        var signed = info
        signed.sign(with: signingKey)
        return signed.text
    }
}
