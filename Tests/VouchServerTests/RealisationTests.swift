import Crypto
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NixFormats
import VouchServer
import VouchStore
import XCTest

final class RealisationTests: XCTestCase {
    static func realisation(_ seed: String, signedBy key: NixSecretKey) -> Realisation {
        let id = DrvOutputID(hashModulo: NixHash(uncheckedSHA256: Array(SHA256.hash(data: Array(seed.utf8)))), output: "out")
        var realisation = Realisation(id: id, outPath: ServerFixture.path(seed))
        realisation.sign(with: key)
        return realisation
    }

    func testPutAndGetWithRawAndPercentEncodedIDs() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        let k1 = try NixSecretKey(generatingNamed: "k1")
        let k2 = try NixSecretKey(generatingNamed: "k2")
        let first = Self.realisation("ca", signedBy: k1)
        var second = first
        second.signatures = []
        second.sign(with: k2)
        let raw = "/realisations/\(first.id).doi"
        let encoded = raw.replacingOccurrences(":", "%3A").replacingOccurrences("!", "%21")
        try await f.app().test(.router) { [second] client in
            try await client.execute(uri: raw, method: .get) { XCTAssertEqual($0.status, .notFound) }
            try await client.execute(uri: raw, method: .put, body: ByteBuffer(string: first.json)) { f.assertRefusal($0, .unauthorized) }
            try await client.execute(uri: raw, method: .put, headers: f.bearer, body: ByteBuffer(string: first.json)) {
                XCTAssertEqual($0.status, .created)
            }
            try await client.execute(uri: encoded, method: .put, headers: f.bearer, body: ByteBuffer(string: second.json)) {
                XCTAssertEqual($0.status, .ok)
            }
            for uri in [raw, encoded] {
                try await client.execute(uri: uri, method: .get) { response in
                    XCTAssertEqual(response.headers[.contentType], "application/json")
                    let served = try Realisation(parsing: Array(buffer: response.body))
                    XCTAssertEqual(Set(served.signatures.map(\.keyName)), ["k1", "k2"])
                    XCTAssertEqual(served.outPath, first.outPath)
                }
            }
            let other = Self.realisation("other", signedBy: k1)
            try await client.execute(uri: raw, method: .put, headers: f.bearer, body: ByteBuffer(string: other.json)) {
                f.assertRefusal($0, .badRequest, containing: "does not match")
            }
            var conflicting = first
            conflicting.outPath = ServerFixture.path("elsewhere")
            try await client.execute(uri: raw, method: .put, headers: f.bearer, body: ByteBuffer(string: conflicting.json)) {
                f.assertRefusal($0, .conflict)
            }
            try await client.execute(uri: "/realisations/sha256:zz!out.doi", method: .get) { f.assertRefusal($0, .badRequest) }
        }
    }
}

extension String {
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
