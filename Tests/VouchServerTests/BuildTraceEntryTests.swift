import Crypto
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NixFormats
import VouchServer
import VouchStore
import VouchTrace
import XCTest

/// Golden vectors from Nix's own unit test data for build trace entries:
/// NixOS/nix at 88b09c64fbea076a0376830d98e5331f70ed31a3 (data last changed in 7a9b1e02),
/// `src/libstore-tests/data/realisation/` — `simple.json`, `with-signature.json`,
/// `unkeyed-simple.json`, `unkeyed-with-signature.json`, `simple-fingerprint.txt`,
/// `with-signature-fingerprint.txt`, `simple-sig.json`, `with-signature-sig.json` — and the test
/// key of `src/libstore-tests/realisation.cc`. Copied verbatim (pretty-printed as in Nix's tree).
enum NixBuildTraceVectors {
    static let testSecretKey = "test-key:tU7tTvLcScf8pmz/eTV0BEtLmRsPpZfKaRcd0nCN+pysBZPHSeg61/u2oc7mIOewfuAY1V1BiX32homTaDJ2Jw=="
    static let drvPath = "g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-bar.drv"

    static let simple = """
        {
          "key": {
            "drvPath": "g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-bar.drv",
            "outputName": "foo"
          },
          "value": {
            "outPath": "g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-foo",
            "signatures": []
          }
        }
        """
    static let withSignature = """
        {
          "key": {
            "drvPath": "g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-bar.drv",
            "outputName": "foo"
          },
          "value": {
            "outPath": "g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-foo.drv",
            "signatures": [
              {
                "keyName": "asdf",
                "sig": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
              }
            ]
          }
        }
        """
    static let unkeyedSimple = """
        {
          "outPath": "g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-foo",
          "signatures": []
        }
        """
    static let unkeyedWithSignature = """
        {
          "outPath": "g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-foo.drv",
          "signatures": [
            {
              "keyName": "asdf",
              "sig": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
            }
          ]
        }
        """
    /// `*-fingerprint.txt` (no trailing newline in Nix's files).
    static let simpleFingerprint = #"{"key":{"drvPath":"g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-bar.drv","outputName":"foo"},"value":{"outPath":"g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-foo"}}"#
    static let withSignatureFingerprint = #"{"key":{"drvPath":"g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-bar.drv","outputName":"foo"},"value":{"outPath":"g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-foo.drv"}}"#
    /// `*-sig.json`: the test key's signature over each fingerprint.
    static let simpleSig = "WsjxK4/EI74COtzMDI+VCjQU9O4FydK0+YeY1CE5hUevogd+T+CPvNXza7oog3GTMS+ZlBwsC2S3ppwusKnJDg=="
    static let withSignatureSig = "ZE30UrOh26/EYvUaczjJtz6c4WcRYke6IEhDNN5TiFRF6Uu+H8lHofponlhfZxDDrCUlfstS/vtv3Xm2F6M/AA=="
}

final class BuildTraceEntryTests: XCTestCase {
    typealias V = NixBuildTraceVectors

    func entry(outPath: String, signatures: [NixSignature] = []) throws -> BuildTraceEntry {
        BuildTraceEntry(derivation: try StorePath(baseName: V.drvPath), outputName: "foo",
                        outPath: try StorePath(baseName: outPath), signatures: signatures)
    }

    func canonical(_ text: String) throws -> [UInt8] { try JSONValue(parsing: Array(text.utf8)).canonicalBytes }

    func testEncodingMatchesNixGoldenFiles() throws {
        let zero = NixSignature(keyName: "asdf", bytes: [UInt8](repeating: 0, count: 64))
        let simple = try entry(outPath: "g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-foo")
        let signed = try entry(outPath: "g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-foo.drv", signatures: [zero])
        XCTAssertEqual(simple.json, try canonical(V.simple))
        XCTAssertEqual(signed.json, try canonical(V.withSignature))
        XCTAssertEqual(simple.valueJSON, try canonical(V.unkeyedSimple))
        XCTAssertEqual(signed.valueJSON, try canonical(V.unkeyedWithSignature))
        XCTAssertEqual(String(decoding: simple.fingerprint, as: UTF8.self), V.simpleFingerprint)
        XCTAssertEqual(String(decoding: signed.fingerprint, as: UTF8.self), V.withSignatureFingerprint)
        XCTAssertEqual(simple.cachePath, "build-trace-v2/\(V.drvPath)/foo.doi")
    }

    func testSignaturesMatchNixGoldenFiles() throws {
        let key = try NixSecretKey(parsing: V.testSecretKey)
        for (outPath, expected) in [("g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-foo", V.simpleSig), ("g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-foo.drv", V.withSignatureSig)] {
            let golden = NixSignature(keyName: "test-key", bytes: Base64.decode(expected)!)
            let vector = try entry(outPath: outPath, signatures: [golden])
            XCTAssertEqual(vector.checkSignatures(trusting: [key.publicKey]), [.valid(key.publicKey)], outPath)
            var ours = try entry(outPath: outPath)
            ours.sign(with: key)
            // Ed25519 is deterministic (RFC 8032), so our signature is Nix's byte for byte.
            XCTAssertEqual(ours.signatures, [golden], outPath)
        }
    }

    func testEndpointServesStoredTracesOfTheBuiltDerivation() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        let builder = try NixSecretKey(generatingNamed: "builder-1")
        let server = try NixSecretKey(generatingNamed: "cache-1")
        _ = try await f.store.metadata.addKey(builder.publicKey)
        let signed = try TraceAPITests.trace("ca-step", builder: builder)
        let resolved = signed.trace.resolvedDerivation!
        let outPath = signed.trace.outputs[0].path
        try await f.app(signingKey: server).test(.router) { client in
            try await client.execute(uri: "/api/v1/traces", method: .post, body: ByteBuffer(bytes: signed.envelope.json)) {
                XCTAssertEqual($0.status, .created)
            }
            try await client.execute(uri: "/build-trace-v2/\(resolved.baseName)/out.doi", method: .get) { response in
                XCTAssertEqual(response.status, .ok, String(buffer: response.body))
                let value = try JSONValue(parsing: Array(buffer: response.body))
                XCTAssertEqual(value["outPath"]?.string, outPath.baseName)
                let sigs = value["signatures"]?.array ?? []
                XCTAssertEqual(sigs.count, 1)
                var expected = BuildTraceEntry(derivation: resolved, outputName: "out", outPath: outPath)
                expected.signatures = [NixSignature(keyName: sigs[0]["keyName"]?.string ?? "", bytes: Base64.decode(sigs[0]["sig"]?.string ?? "") ?? [])]
                XCTAssertEqual(expected.checkSignatures(trusting: [server.publicKey]), [.valid(server.publicKey)])
            }
            // Only the built (resolved) derivation is a key, as in current Nix.
            try await client.execute(uri: "/build-trace-v2/\(signed.trace.derivation.baseName)/out.doi", method: .get) {
                f.assertRefusal($0, .notFound)
            }
            try await client.execute(uri: "/build-trace-v2/\(resolved.baseName)/dev.doi", method: .get) { f.assertRefusal($0, .notFound) }
            try await client.execute(uri: "/build-trace-v2/not-a-drv/out.doi", method: .get) { f.assertRefusal($0, .badRequest) }
        }
        // Without a server key the entry is served unsigned.
        try await f.app().test(.router) { client in
            try await client.execute(uri: "/build-trace-v2/\(resolved.baseName)/out.doi", method: .get) { response in
                XCTAssertEqual(String(buffer: response.body), #"{"outPath":"\#(outPath.baseName)","signatures":[]}"#)
            }
        }
    }
}
