import HTTPTypes
/// The NAR compressions the server stores and validates: the ones Nix 2.8 reads that matter in
/// practice. Others (`bzip2`, `br`, `gzip`, …) are refused with `415`.
enum NARCompression: String, Sendable, Hashable, CaseIterable {
    case none
    case xz
    case zstd

    /// Parses a narinfo `Compression:` value. Missing means `bzip2` to Nix, so it is refused too.
    init(narInfoField value: String?) throws(ServerError) {
        guard let value else { throw Self.unsupported("bzip2 (no Compression field)") }
        guard let compression = NARCompression(rawValue: value) else { throw Self.unsupported(value) }
        self = compression
    }

    /// The `URL:` suffix Nix uses for this compression.
    var fileExtension: String {
        switch self {
        case .none: ".nar"
        case .xz: ".nar.xz"
        case .zstd: ".nar.zst"
        }
    }

    static func unsupported(_ name: String) -> ServerError {
        ServerError(.unsupportedMediaType, "compression '\(name)' is not supported (use none, xz or zstd)")
    }

    /// A decompressor reading the file at `path`.
    func decompressor(readingFile path: String) throws(DecompressionError) -> any Decompressor {
        let file = try FileReader(path: path)
        switch self {
        case .none: return PassThroughDecompressor(file: file)
        case .xz: return try XZDecompressor(file: file)
        case .zstd: return try ZstdDecompressor(file: file)
        }
    }
}
