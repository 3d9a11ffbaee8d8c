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

final class TraceAPITests: XCTestCase {
    /// A CA-style trace (resolved derivation differs) by `builder`.
    static func trace(_ name: String, builder: NixSecretKey, outPath: StorePath? = nil) throws -> SignedTrace {
        let output = BuildTrace.Output(name: "out", path: outPath ?? ServerFixture.path(name),
                                       narHash: NixHash(uncheckedSHA256: Array(SHA256.hash(data: Array(name.utf8)))), narSize: 1234)
        let input = BuildTrace.Input(path: ServerFixture.path("\(name)-src"), narHash: NixHash(uncheckedSHA256: Array(SHA256.hash(data: [1]))))
        let trace = BuildTrace(derivation: ServerFixture.path(name, suffix: ".drv"),
                               resolvedDerivation: ServerFixture.path("\(name)-resolved", suffix: ".drv"),
                               system: "x86_64-linux", outputs: [output], inputs: [input], builderKey: builder.publicKey,
                               implementationVersion: "2.8.0", invocationID: "test-\(name)")
        return try SignedTrace(signing: trace, with: builder)
    }

    static func post(_ body: [UInt8], contentType: String = "application/json", _ client: any TestClientProtocol) async throws -> TestResponse {
        try await client.execute(uri: "/api/v1/traces", method: .post, headers: [.contentType: contentType], body: ByteBuffer(bytes: body))
    }

    static func traceIDs(_ response: TestResponse) throws -> [String] {
        XCTAssertEqual(response.status, .ok, String(buffer: response.body))
        let value = try JSONValue(parsing: Array(buffer: response.body))
        return value["traces"]?.array?.compactMap { $0["id"]?.string } ?? []
    }

    func testUploadByARegisteredBuilderAndReplay() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        let builder = try NixSecretKey(generatingNamed: "builder-1")
        _ = try await f.store.metadata.addKey(builder.publicKey)
        let signed = try Self.trace("hello", builder: builder)
        let bytes = signed.envelope.json
        let id = Base16.encode(Array(SHA256.hash(data: bytes)))
        try await f.app().test(.router) { client in
            let first = try await Self.post(bytes, client)
            XCTAssertEqual(first.status, .created, String(buffer: first.body))
            XCTAssertEqual(try JSONValue(parsing: Array(buffer: first.body))["id"]?.string, id)
            let replay = try await Self.post(bytes, client)
            XCTAssertEqual(replay.status, .ok)
        }
        let stored = try await f.store.metadata.traces(matching: .signer("builder-1"))
        XCTAssertEqual(stored.map(\.id), [id])
        XCTAssertEqual(stored.first?.bytes, bytes)
    }

    func testUnregisteredTamperedAndMalformedTracesAreRefused() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        let builder = try NixSecretKey(generatingNamed: "builder-1")
        let stranger = try NixSecretKey(generatingNamed: "builder-2")
        _ = try await f.store.metadata.addKey(builder.publicKey)
        let unregistered = try Self.trace("stranger", builder: stranger).envelope.json
        // Same envelope, payload swapped for another trace's statement: signature no longer covers it.
        var envelope = try Self.trace("hello", builder: builder).envelope
        envelope.payload = try Self.trace("other", builder: builder).trace.statementBytes
        let tampered = envelope.json
        // Signed by a registered key that is not the builder the trace names.
        var impostor = try Self.trace("impostor", builder: stranger).envelope
        impostor.signatures = []
        impostor.sign(with: builder)
        try await f.app().test(.router) { [impostor] client in
            let r1 = try await Self.post(unregistered, client)
            f.assertRefusal(r1, .forbidden, containing: "not registered")
            let r2 = try await Self.post(tampered, client)
            f.assertRefusal(r2, .forbidden, containing: "no valid signature")
            let r3 = try await Self.post(impostor.json, client)
            f.assertRefusal(r3, .forbidden)
            let r4 = try await Self.post(Array("{\"payload\":1}".utf8), client)
            f.assertRefusal(r4, .badRequest)
            let r5 = try await Self.post(Array("not.a.jws".utf8), contentType: "application/jose", client)
            f.assertRefusal(r5, .badRequest)
            let r6 = try await Self.post([UInt8](repeating: 0x20, count: BodyLimits.trace + 1), client)
            f.assertRefusal(r6, .contentTooLarge)
        }
        let signers = try await f.store.metadata.signers()
        XCTAssertEqual(signers, [])
    }

    func testQueriesBySelector() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        let a = try NixSecretKey(generatingNamed: "builder-a")
        let b = try NixSecretKey(generatingNamed: "builder-b")
        _ = try await f.store.metadata.addKey(a.publicKey)
        _ = try await f.store.metadata.addKey(b.publicKey)
        let hello = try Self.trace("hello", builder: a)
        let helloB = try Self.trace("hello", builder: b)
        let world = try Self.trace("world", builder: b)
        let ids = [hello, helloB, world].map { Base16.encode(Array(SHA256.hash(data: $0.envelope.json))) }
        try await f.app().test(.router) { client in
            for signed in [hello, helloB, world] {
                let r7 = try await Self.post(signed.envelope.json, client)
                XCTAssertEqual(r7.status, .created)
            }
            func query(_ q: String) async throws -> [String] {
                try await client.execute(uri: "/api/v1/traces?\(q)", method: .get) { try Self.traceIDs($0) }
            }
            let expectations: [(String, [String])] = [
                ("drv=\(hello.trace.derivation)", [ids[0], ids[1]]),
                ("drv=\(hello.trace.resolvedDerivation!.absolute.replacingSlashes)", [ids[0], ids[1]]),
                ("output=\(world.trace.outputs[0].path)", [ids[2]]),
                ("signer=builder-b", [ids[1], ids[2]]),
                ("signer=nobody", []),
            ]
            for (q, expected) in expectations {
                let found = try await query(q)
                XCTAssertEqual(found, expected, q)
            }
            try await client.execute(uri: "/api/v1/traces?drv=x&signer=y", method: .get) { f.assertRefusal($0, .badRequest) }
            try await client.execute(uri: "/api/v1/traces?drv=/tmp/x.drv", method: .get) { f.assertRefusal($0, .badRequest) }
            // The envelope is embedded as JSON, the signer named.
            try await client.execute(uri: "/api/v1/traces?signer=builder-a", method: .get) { response in
                let entry = try JSONValue(parsing: Array(buffer: response.body))["traces"]?.array?.first
                XCTAssertEqual(entry?["format"]?.string, "dsse")
                XCTAssertEqual(entry?["signer"]?.string, a.publicKey.description)
                XCTAssertEqual(entry?["envelope"]?.canonicalBytes, try JSONValue(parsing: hello.envelope.json).canonicalBytes)
            }
            let bulk = JSONValue.object([
                "derivations": .array([.string(world.trace.derivation.absolute), .string(hello.trace.derivation.absolute)]),
                "outputs": .array([.string(world.trace.outputs[0].path.absolute)]),
            ]).canonicalBytes
            try await client.execute(uri: "/api/v1/traces/query", method: .post, body: ByteBuffer(bytes: bulk)) { response in
                XCTAssertEqual(try Self.traceIDs(response), ids, "every match once, in upload order")
            }
            try await client.execute(uri: "/api/v1/traces/query", method: .post, body: ByteBuffer(string: "{\"drvs\":[]}")) {
                f.assertRefusal($0, .badRequest, containing: "drvs")
            }
            try await client.execute(uri: "/api/v1/signers", method: .get) { response in
                let signers = try JSONValue(parsing: Array(buffer: response.body))["signers"]?.array ?? []
                let counts = Dictionary(uniqueKeysWithValues: signers.map { ($0["publicKey"]?.string ?? "", $0["traces"]?.int ?? -1) })
                XCTAssertEqual(counts, [a.publicKey.description: 1, b.publicKey.description: 2])
                XCTAssertTrue(signers.allSatisfy { $0["registered"]?.bool == true })
            }
        }
    }

    func testLautTracesAreAcceptedFromRegisteredKeysAndServedLautStyle() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        _ = try await f.store.metadata.addKey(try NixPublicKey(parsing: LautFixture.builderA))
        try await f.app().test(.router) { client in
            let r8 = try await Self.post(Array(LautFixture.jwsA.utf8), contentType: "application/jose", client)
            XCTAssertEqual(r8.status, .created)
            let r9 = try await Self.post(Array(LautFixture.jwsB.utf8), contentType: "application/jose", client)
            f.assertRefusal(r9, .forbidden,
                            containing: "not signed by any key registered")
            try await client.execute(uri: "/traces/\(LautFixture.resolvedDerivationHash)", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let file = try LautTrace.parseFile(Array(buffer: response.body), source: "response")
                XCTAssertEqual(file.map(\.compact), [LautFixture.jwsA])
            }
            try await client.execute(uri: "/traces/\(String(repeating: "0", count: 32))", method: .get) { f.assertRefusal($0, .notFound) }
            try await client.execute(uri: "/api/v1/traces?signer=builderA", method: .get) { response in
                let entry = try JSONValue(parsing: Array(buffer: response.body))["traces"]?.array?.first
                XCTAssertEqual(entry?["format"]?.string, "laut")
                XCTAssertEqual(entry?["jws"]?.string, LautFixture.jwsA)
            }
        }
    }
}

private extension String {
    /// Percent-encodes `/` (a query value may carry it either way).
    var replacingSlashes: String { split(separator: "/", omittingEmptySubsequences: false).joined(separator: "%2F") }
}
