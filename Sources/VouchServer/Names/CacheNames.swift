import NixFormats

/// The names that appear in binary-cache URLs, validated before anything touches storage.
enum CacheNames {
    /// A store path hash part: 32 characters of the nix32 alphabet.
    static func isHashPart<S: StringProtocol>(_ text: S) -> Bool {
        var count = 0
        for byte in text.utf8 {
            count += 1
            guard count <= StorePath.hashPartLength, isNix32(byte) else { return false }
        }
        return count == StorePath.hashPartLength
    }

    @inline(__always)
    static func isNix32(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "a")...UInt8(ascii: "z"):
            byte != UInt8(ascii: "e") && byte != UInt8(ascii: "o") && byte != UInt8(ascii: "u") && byte != UInt8(ascii: "t")
        default: false
        }
    }

    /// Parses a derivation base name (`<hash>-<name>.drv`).
    static func derivation(baseName text: String) throws(ServerError) -> StorePath {
        guard let path = try? StorePath(baseName: text), path.isDerivation else {
            throw .badRequest("'\(text)' is not a derivation base name (<hash>-<name>.drv)")
        }
        return path
    }

    /// Output names as Nix allows them in store path names.
    static func isOutputName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= StorePath.maximumNameLength && (try? StorePath.validate(name: text, in: text)) != nil
    }
}

/// A NAR file name under `nar/`: `<nix32 SHA-256 of the file>.nar[.xz|.zst]`.
struct NARFileName: Sendable, Hashable {
    /// SHA-256 of the file as stored (the compressed bytes).
    let fileHash: [UInt8]
    let compression: NARCompression
    /// Blob key: `nar/<name>`.
    let key: String

    /// - Throws: `400` for a malformed name, `415` for a compression the server does not take.
    init(fileName text: String) throws(ServerError) {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].utf8.count == 52, let hash = NixBase32.decode(String(parts[0])), hash.count == 32 else {
            throw .badRequest("NAR name '\(text)' is not '<nix32 sha256>.nar[.xz|.zst]'")
        }
        let compression: NARCompression
        switch parts[1] {
        case "nar": compression = .none
        case "nar.xz": compression = .xz
        case "nar.zst": compression = .zstd
        default:
            guard parts[1].hasPrefix("nar.") else { throw .badRequest("NAR name '\(text)' must end in .nar, .nar.xz or .nar.zst") }
            throw NARCompression.unsupported(String(parts[1].dropFirst(4)))
        }
        self.fileHash = hash
        self.compression = compression
        self.key = "nar/\(text)"
    }

    /// Parses a narinfo `URL:` value (`nar/<file name>`).
    init(url: String) throws(ServerError) {
        guard url.hasPrefix("nar/") else { throw .badRequest("URL '\(url)' is not under nar/") }
        try self.init(fileName: String(url.dropFirst(4)))
    }
}

/// Percent-decoding of one URL path segment (`%3A` → `:`); nil for a malformed escape.
enum PercentDecoding {
    static func decode(_ text: Substring) -> String? {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var bytes = [UInt8]()
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        let string = String(decoding: bytes, as: UTF8.self)
        return string.utf8.elementsEqual(bytes) ? string : nil
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
