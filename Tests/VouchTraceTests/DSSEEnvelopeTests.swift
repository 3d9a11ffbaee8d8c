import NixFormats
import VouchTrace
import XCTest

/// Vectors from the DSSE v1.0.2 protocol and an Ed25519 in-toto envelope verified with securesystemslib
/// (see docs/trace-format.md, "Interop").
final class DSSEEnvelopeTests: XCTestCase {
    func testPAEMatchesTheSpecVector() {
        let pae = DSSEEnvelope.pae(payloadType: "http://example.com/HelloWorld", payload: Array("hello world".utf8))
        XCTAssertEqual(Base16.encode(pae), "44535345763120323920687474703a2f2f6578616d706c652e636f6d2f48656c6c6f576f726c642031312068656c6c6f20776f726c64")
    }

    func testEd25519InTotoVectorIsReproducedBitForBit() throws {
        let seed = (0..<32).map { UInt8($0) }
        let key = try NixSecretKey(parsing: "vector:" + Base64.encode(seed + Base16.decode("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")!))
        let payload = #"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"out","digest":{"sha256":"0000000000000000000000000000000000000000000000000000000000000000"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"https://example.org/nix-trace/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.org/builders/a"}}}}"#
        var envelope = DSSEEnvelope(payloadType: DSSEEnvelope.inTotoPayloadType, payload: Array(payload.utf8))
        XCTAssertEqual(envelope.payload.count, 376)
        XCTAssertEqual(HashAlgorithm.sha256.digest(envelope.signedBytes).base16, "79dde29855a49fa745b0ccde721be6e8881cfa87dbee62911b1e9a4abb714296")
        envelope.sign(with: key)
        XCTAssertEqual(Base64.encode(envelope.signatures[0].bytes),
                       "nCRIfmZTV02zq4jTFGydm5d84ebwVSBxxxiJTr0LkGM26uBvsE1nVGl79524ZQAt/VouaoojMCs+3VLznnqWBg==")
        let reparsed = try DSSEEnvelope(parsing: envelope.json, source: "test")
        XCTAssertEqual(reparsed, envelope)
    }

    // MARK: parsing

    /// An envelope JSON with the given member texts (nil leaves a member out).
    func envelopeJSON(payload: String?, payloadType: String? = DSSEEnvelope.inTotoPayloadType, sig: String?, keyid: String? = "k") -> [UInt8] {
        var signature: [String: JSONValue] = [:]
        if let sig { signature["sig"] = .string(sig) }
        if let keyid { signature["keyid"] = .string(keyid) }
        var members: [String: JSONValue] = ["signatures": .array([.object(signature)])]
        if let payload { members["payload"] = .string(payload) }
        if let payloadType { members["payloadType"] = .string(payloadType) }
        return JSONValue.object(members).canonicalBytes
    }

    /// Standard, URL-safe, padded and unpadded spellings of `bytes`.
    func spellings(_ bytes: [UInt8]) -> [String] {
        let standard = Base64.encode(bytes)
        let unpadded = String(standard.filter { $0 != "=" })
        let url = Fixture.base64URL(bytes)
        let urlPadded = String(standard.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
        return [standard, unpadded, url, urlPadded]
    }

    func testAcceptsStandardAndURLSafeBase64WithAndWithoutPadding() throws {
        let key = Fixture.key("builder-a")
        let trace = Fixture.trace(builder: key.publicKey, outputs: 1, inputs: 2)
        // Find a payload whose base64 needs padding and uses both '+' and '/', and whose signature's
        // base64 uses both too (so every spelling differs; the key is random, so the signature is).
        // ('/' and '+' need a byte ending in 0x3f / 0x3e at the third position of a 3-byte group: '?' and '>'.)
        var statement = trace
        for salt in 0..<1000 {
            statement.invocationID = "???>>>\(String(repeating: "x", count: salt))"
            let text = Base64.encode(statement.statementBytes)
            guard text.hasSuffix("="), text.contains("+"), text.contains("/") else { continue }
            let sig = Base64.encode(try SignedTrace(signing: statement, with: key).envelope.signatures[0].bytes)
            if sig.contains("+"), sig.contains("/") { break }
        }
        let text = Base64.encode(statement.statementBytes)
        XCTAssertTrue(text.hasSuffix("=") && text.contains("+") && text.contains("/"))
        let signed = try SignedTrace(signing: statement, with: key)
        let sigBytes = signed.envelope.signatures[0].bytes
        XCTAssertTrue(Base64.encode(sigBytes).hasSuffix("=="), "a 64-byte signature always needs padding")
        XCTAssertTrue(Base64.encode(sigBytes).contains("+") && Base64.encode(sigBytes).contains("/"))
        var seen = Set<String>()
        for payload in spellings(signed.envelope.payload) {
            for sig in spellings(sigBytes) {
                seen.insert(payload + sig)
                let bytes = envelopeJSON(payload: payload, sig: sig, keyid: key.publicKey.description)
                let envelope = try DSSEEnvelope(parsing: bytes, source: "test")
                XCTAssertEqual(envelope, signed.envelope, "payload \(payload.suffix(4)) sig \(sig.suffix(4))")
                let read = try SignedTrace(parsing: bytes, source: "test")
                XCTAssertEqual(read.verify(trusting: [key.publicKey]), [.valid(key.publicKey)])
            }
        }
        XCTAssertEqual(seen.count, 16)
        // The empty payload and an empty signature are representable.
        let empty = try DSSEEnvelope(parsing: envelopeJSON(payload: "", payloadType: "", sig: ""), source: "test")
        XCTAssertEqual(empty, DSSEEnvelope(payloadType: "", payload: [], signatures: [.init(keyID: "k", bytes: [])]))
    }

    func testRejectsMissingOrMistypedMembers() {
        let payload = Base64.encode(Array("hello world".utf8))
        let sig = Base64.encode([UInt8](repeating: 7, count: 64))
        assertTraceError(.malformed, mentions: ["payload"], try DSSEEnvelope(parsing: envelopeJSON(payload: nil, sig: sig), source: "test"))
        assertTraceError(.malformed, mentions: ["payloadType"],
                         try DSSEEnvelope(parsing: envelopeJSON(payload: payload, payloadType: nil, sig: sig), source: "test"))
        assertTraceError(.malformed, mentions: ["sig"], try DSSEEnvelope(parsing: envelopeJSON(payload: payload, sig: nil), source: "test"))
        let good = Fixture.parse(String(decoding: envelopeJSON(payload: payload, sig: sig), as: UTF8.self))
        XCTAssertNoThrow(try DSSEEnvelope(parsing: good.canonicalBytes, source: "test"))
        let cases: [(String, JSONValue?, String)] = [
            ("signatures", nil, "signatures"),
            ("signatures", .object([:]), "signatures"),
            ("signatures", .string(sig), "signatures"),
            ("payload", .int(1), "payload"),
            ("payload", .null, "payload"),
            ("payload", .array([.string(payload)]), "payload"),
            ("payloadType", .int(1), "payloadType"),
            ("payloadType", .null, "payloadType"),
            ("signatures.0.sig", .int(1), "sig"),
            ("signatures.0.sig", .null, "sig"),
            ("signatures.0", .string(sig), "sig"),
            ("signatures.0.keyid", .int(1), "keyid"),
            ("signatures.0.keyid", .object([:]), "keyid"),
        ]
        for (path, value, mention) in cases {
            assertTraceError(.malformed, mentions: [mention], try DSSEEnvelope(parsing: good.setting(path, to: value).canonicalBytes, source: "test"),
                             "\(path) = \(String(describing: value))")
        }
        for root in ["[]", "null", "\"x\"", "", "{", "{}"] {
            assertTraceError(.malformed, try DSSEEnvelope(parsing: Array(root.utf8), source: "test"), root)
        }
        // keyid absent or null reads as "", an empty signature list is allowed, unknown members are ignored.
        XCTAssertEqual(try DSSEEnvelope(parsing: good.setting("signatures.0.keyid", to: .null).canonicalBytes, source: "t").signatures[0].keyID, "")
        XCTAssertEqual(try DSSEEnvelope(parsing: good.setting("signatures.0.keyid", to: nil).canonicalBytes, source: "t").signatures[0].keyID, "")
        XCTAssertEqual(try DSSEEnvelope(parsing: good.setting("signatures", to: .array([])).canonicalBytes, source: "t").signatures, [])
        let extended = good.setting("signatures.0.extra", to: .int(1)).setting("mediaType", to: .string("x"))
        XCTAssertEqual(try DSSEEnvelope(parsing: extended.canonicalBytes, source: "t"), try DSSEEnvelope(parsing: good.canonicalBytes, source: "t"))
    }

    func testRejectsBadBase64() {
        let payload = Base64.encode(Array("hello world".utf8))
        let sig = Base64.encode([UInt8](repeating: 7, count: 64))
        for bad in ["a", "abcde", "ab=c", "a===", "ab*d", "ab d", "aGVsbG8gd29ybGQ=\n", "aGVsbG8gd29ybGQ==", "=aGVsbG8gd29ybGQ", "aGVsbG8gd29ybGR="] {
            assertTraceError(.malformed, mentions: ["payload"], try DSSEEnvelope(parsing: envelopeJSON(payload: bad, sig: sig), source: "test"), bad)
            assertTraceError(.malformed, mentions: ["sig"], try DSSEEnvelope(parsing: envelopeJSON(payload: payload, sig: bad), source: "test"), bad)
        }
    }

    func testEnvelopeJSONIsCanonicalStandardBase64() throws {
        let key = Fixture.key("builder-a")
        let signed = try SignedTrace(signing: Fixture.trace(builder: key.publicKey), with: key)
        let json = signed.envelope.json
        XCTAssertEqual(try JSONValue(parsing: json).canonicalBytes, json)
        let value = try JSONValue(parsing: json)
        XCTAssertEqual(value["payload"]?.string, Base64.encode(signed.envelope.payload))
        XCTAssertEqual(value.at("signatures.0.sig")?.string, Base64.encode(signed.envelope.signatures[0].bytes))
        XCTAssertEqual(value.at("signatures.0.keyid")?.string, key.publicKey.description)
        XCTAssertEqual(value.object.map { Set($0.keys) }, ["payload", "payloadType", "signatures"])
    }

    func testOversizedEnvelopeIsRefused() {
        let big = [UInt8](repeating: 0x20, count: DSSEEnvelope.maximumSize + 1)
        assertTraceError(.malformed, try DSSEEnvelope(parsing: big, source: "test"))
    }
}
