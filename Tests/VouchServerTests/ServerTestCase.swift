import CLzma
import CZstd
import Crypto
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NixFormats
import VouchServer
import VouchStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A real SQLite store and blob directory in a fresh temporary directory, with one access token
/// (``token``), and helpers to make servers, NARs, narinfos and requests. Sendable, so test
/// closures can capture it.
struct ServerFixture: Sendable {
    let directory: String
    let store: StoreDirectory
    let token = "test-token-0123456789abcdefghijklmnopqrstu"

    init() async throws {
        var template = Array("/tmp/vouch-server-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw XCTSkip("mkdtemp failed") }
        directory = String(cString: made)
        store = try StoreDirectory.open(path: directory)
        try await store.metadata.addToken(AccessToken(name: "uploader", secretDigest: Array(SHA256.hash(data: Array(token.utf8))), createdAt: 0))
    }

    /// Closes the store and removes the directory.
    func cleanUp() {
        store.close()
        _ = system("rm -rf '\(directory)'")
    }

    func app(signingKey: NixSecretKey? = nil, privateReads: Bool = false, maximumNARSize: UInt64 = BodyLimits.defaultMaximumNARSize,
                 clock: @escaping @Sendable () -> Int64 = { Int64(time(nil)) }) -> Application<VouchResponder> {
        VouchServer.makeApplication(ServerConfiguration(host: "127.0.0.1", port: 0, storage: store.metadata, blobs: store.blobs,
                                                        signingKey: signingKey, privateReads: privateReads,
                                                        maximumNARSize: maximumNARSize, clock: clock))
    }

    var bearer: HTTPFields { [.authorization: "Bearer \(token)"] }

    // MARK: NARs and narinfos

    /// A NAR of a small tree made on disk (so it is exactly what `nix-store --dump` would give).
    func makeNAR(_ seed: String) throws -> [UInt8] {
        let root = "\(directory)/tree-\(seed)"
        XCTAssertEqual(mkdir(root, 0o755), 0)
        try write("\(root)/file", Array("contents of \(seed)\n".utf8))
        XCTAssertEqual(mkdir("\(root)/sub", 0o755), 0)
        try write("\(root)/sub/data", Array(repeating: UInt8(ascii: "x"), count: 10_000) + Array(seed.utf8))
        XCTAssertEqual(symlink("file", "\(root)/link"), 0)
        return try NAR.dump(path: root)
    }

    func write(_ path: String, _ bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        XCTAssertEqual(bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }, bytes.count)
    }

    enum Compression: String, Sendable { case none, xz, zstd }

    func compress(_ bytes: [UInt8], _ compression: Compression) -> [UInt8] {
        switch compression {
        case .none: return bytes
        case .xz:
            var out = [UInt8](repeating: 0, count: bytes.count + 1024)
            var position = 0
            let status = lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, nil, bytes, bytes.count, &out, &position, out.count)
            XCTAssertEqual(status, LZMA_OK)
            return Array(out[0 ..< position])
        case .zstd:
            var out = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
            let size = ZSTD_compress(&out, out.count, bytes, bytes.count, 3)
            XCTAssertEqual(ZSTD_isError(size), 0)
            return Array(out[0 ..< size])
        }
    }

    struct Upload: Sendable {
        var file: [UInt8]
        var fileName: String
        var info: NARInfo
        var narURI: String { "/nar/\(fileName)" }
        var infoURI: String { "/\(info.storePath.hashPart).narinfo" }
    }

    /// A NAR file and a matching, correct narinfo for `/nix/store/<seed hash>-<seed>`.
    func makeUpload(_ seed: String, compression: Compression = .xz, references: [StorePath] = []) throws -> Upload {
        let nar = try makeNAR(seed)
        let file = compress(nar, compression)
        let fileHash = NixHash(uncheckedSHA256: Array(SHA256.hash(data: file)))
        let fileName = "\(fileHash.nix32).nar" + ["none": "", "xz": ".xz", "zstd": ".zst"][compression.rawValue]!
        let info = NARInfo(storePath: Self.path(seed), url: "nar/\(fileName)", compression: compression.rawValue,
                           fileHash: fileHash, fileSize: UInt64(file.count),
                           narHash: NixHash(uncheckedSHA256: Array(SHA256.hash(data: nar))), narSize: UInt64(nar.count),
                           references: references)
        return Upload(file: file, fileName: fileName, info: info)
    }

    static func path(_ seed: String, suffix: String = "") -> StorePath {
        let digest = Array(SHA256.hash(data: Array("path:\(seed)".utf8)).prefix(20))
        return try! StorePath(digest: digest, name: seed + suffix)
    }

    /// PUTs the NAR then the narinfo, both with the bearer token, expecting `201`.
    func upload(_ upload: Upload, _ client: any TestClientProtocol) async throws {
        try await client.execute(uri: upload.narURI, method: .put, headers: bearer, body: ByteBuffer(bytes: upload.file)) { response in
            XCTAssertEqual(response.status, .created, String(buffer: response.body))
        }
        try await client.execute(uri: upload.infoURI, method: .put, headers: bearer, body: ByteBuffer(string: upload.info.text)) { response in
            XCTAssertEqual(response.status, .created, String(buffer: response.body))
        }
    }

    /// Asserts a one-line text/plain error with `status` whose text contains `fragment`.
    func assertRefusal(_ response: TestResponse, _ status: HTTPResponse.Status, containing fragment: String = "",
                       file: StaticString = #filePath, line: UInt = #line) {
        let body = String(buffer: response.body)
        XCTAssertEqual(response.status, status, body, file: file, line: line)
        XCTAssertEqual(response.headers[.contentType], "text/plain; charset=utf-8", file: file, line: line)
        XCTAssertTrue(body.hasSuffix("\n") && body.dropLast().firstIndex(of: "\n") == nil, "not one line: \(body)", file: file, line: line)
        XCTAssertTrue(fragment.isEmpty || body.contains(fragment), "'\(body)' does not mention '\(fragment)'", file: file, line: line)
    }

    func blobExists(_ key: String) throws -> Bool { try store.blobs.path(of: key) != nil }
}

extension NixHash {
    init(uncheckedSHA256 bytes: [UInt8]) { self = try! NixHash(algorithm: .sha256, bytes: bytes) }
}

/// Directory listing without Foundation.
enum FileManagerless {
    static func entries(of path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw ListingFailed(path: path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

struct ListingFailed: Error { let path: String }
