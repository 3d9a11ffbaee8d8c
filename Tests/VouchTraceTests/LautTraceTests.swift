import NixFormats
import VouchTrace
import XCTest

/// laut build traces (compact JWS) built here byte for byte in laut's layout and signed with real
/// Ed25519 keys, plus laut's own test data.
final class LautTraceTests: XCTestCase {
    let a = Fixture.key("builderA")
    let b = Fixture.key("builderB")

    let rdrv = Fixture.path("resolved", "xz-5.8.1.drv").hashPart
    let outPath = Fixture.path("out", "xz-5.8.1")
    let binPath = Fixture.path("bin", "xz-5.8.1-bin")
    let outHash = Fixture.hash("out")
    let binHash = Fixture.hash("bin")

    // MARK: building tokens the way laut does

    /// laut-sign's header (`jws.rs`), fields in its order, compact.
    func lautHeader(kid: String, alg: String = "EdDSA") -> String {
        #"{"type":"laut","alg":"\#(alg)","crv":"Ed25519","v":"2","kid":"\#(kid)","detachHash":"nix-ca-path"}"#
    }

    func lautPayload(rdrv: String? = nil, outputs: [(String, String, String)]? = nil) -> String {
        let outs = (outputs ?? [("bin", binPath.absolute, binHash.description), ("out", outPath.absolute, outHash.description)])
            .map { #""\#($0.0)":{"path":"\#($0.1)","hash":"\#($0.2)","hashAlgo":"sha256","method":"nar"}"# }
            .joined(separator: ",")
        return #"{"in":{"rdrv_aterm_ca":"\#(rdrv ?? self.rdrv)"},"out":{"nix":{\#(outs)}},"builder":{"rebuild_id":1,"store_root":"/nix/store"}}"#
    }

    /// `BASE64URL(header).BASE64URL(payload).BASE64URL(Ed25519(key, signing input))`.
    func jws(header: String, payload: String, key: NixSecretKey) -> String {
        let input = Fixture.base64URL(Array(header.utf8)) + "." + Fixture.base64URL(Array(payload.utf8))
        return input + "." + Fixture.base64URL(key.sign(Array(input.utf8)).bytes)
    }

    func token(_ key: NixSecretKey) -> String { jws(header: lautHeader(kid: LautTrace.keyID(for: key.publicKey)), payload: lautPayload(), key: key) }

    func segments(_ compact: String) -> [String] { compact.split(separator: ".", omittingEmptySubsequences: false).map(String.init) }

    func read(_ compact: String) throws -> LautTrace { try LautTrace(compact: compact, source: "test") }

    /// Refused: either it does not parse, or no trusted key verifies it.
    func assertRefused(_ compact: String, trusting keys: [NixPublicKey], _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        do {
            let trace = try read(compact)
            XCTAssertNil(trace.signer(trusting: keys), "verified: \(message)", file: file, line: line)
        } catch {
            XCTAssertTrue(error is TraceError, "\(error)", file: file, line: line)
        }
    }

    // MARK: valid

    func testLautShapedTokenVerifies() throws {
        let compact = token(a)
        let trace = try read(compact)
        XCTAssertEqual(trace.compact, compact)
        XCTAssertEqual(trace.resolvedDerivationHash, rdrv)
        XCTAssertEqual(trace.keyID, LautTrace.keyID(for: a.publicKey))
        XCTAssertEqual(Set(trace.outputs.keys), ["bin", "out"])
        XCTAssertEqual(trace.outputs["out"]?.path, outPath)
        XCTAssertEqual(trace.outputs["out"]?.narHash, outHash)
        XCTAssertEqual(trace.outputs["bin"]?.path, binPath)
        XCTAssertEqual(trace.outputs["bin"]?.narHash, binHash)
        XCTAssertEqual(trace.signer(trusting: [a.publicKey]), a.publicKey)
        XCTAssertEqual(trace.signer(trusting: [b.publicKey, a.publicKey]), a.publicKey)
        XCTAssertNil(trace.signer(trusting: []))
        XCTAssertNil(trace.signer(trusting: [b.publicKey]), "another key does not verify")
        XCTAssertNil(try read(token(b)).signer(trusting: [a.publicKey]))
        XCTAssertEqual(try read(token(b)).signer(trusting: [a.publicKey, b.publicKey]), b.publicKey)
    }

    func testOptionalHeaderAndPayloadFields() throws {
        // No kid, no crv, extra header members (laut's older signer adds "typ":"JWT"), relative output paths.
        let header = #"{"alg":"EdDSA","typ":"JWT","type":"laut","v":"2"}"#
        let payload = lautPayload(outputs: [("out", outPath.baseName, outHash.description)])
        let trace = try read(jws(header: header, payload: payload, key: a))
        XCTAssertNil(trace.keyID)
        XCTAssertEqual(trace.outputs["out"]?.path, outPath)
        XCTAssertEqual(trace.signer(trusting: [b.publicKey, a.publicKey]), a.publicKey)
    }

    func testKidIsOnlyAHint() throws {
        for kid in [LautTrace.keyID(for: b.publicKey), "builderB", "", "nobody:0000000000000000", "builderA:ffffffffffffffff"] {
            let trace = try read(jws(header: lautHeader(kid: kid), payload: lautPayload(), key: a))
            XCTAssertEqual(trace.signer(trusting: [b.publicKey, a.publicKey]), a.publicKey, "kid '\(kid)'")
            XCTAssertNil(trace.signer(trusting: [b.publicKey]), "kid '\(kid)'")
        }
        // A trusted key with the kid's name but other key material does not verify.
        let impostor = Fixture.key("builderA").publicKey
        XCTAssertNil(try read(token(a)).signer(trusting: [impostor]))
    }

    // MARK: tampering

    func testChangedPayloadHeaderOrSignatureIsRefused() throws {
        let good = segments(token(a))
        // Re-encoded payloads with a changed field, original signature kept.
        let evil = Fixture.hash("evil").description
        for payload in [lautPayload(outputs: [("bin", binPath.absolute, binHash.description), ("out", outPath.absolute, evil)]),
                        lautPayload(rdrv: Fixture.path("other", "xz.drv").hashPart),
                        lautPayload(outputs: [("out", outPath.absolute, outHash.description)]),
                        lautPayload() + " "] {
            let forged = [good[0], Fixture.base64URL(Array(payload.utf8)), good[2]].joined(separator: ".")
            XCTAssertNil(try read(forged).signer(trusting: [a.publicKey, b.publicKey]), payload)
        }
        // Re-encoded headers, original signature kept.
        for header in [lautHeader(kid: LautTrace.keyID(for: b.publicKey)), lautHeader(kid: LautTrace.keyID(for: a.publicKey)) + " "] {
            let forged = [Fixture.base64URL(Array(header.utf8)), good[1], good[2]].joined(separator: ".")
            XCTAssertNil(try read(forged).signer(trusting: [a.publicKey, b.publicKey]), header)
        }
        // Each signature byte flipped.
        let sig = decodeURL(good[2])
        XCTAssertEqual(sig.count, 64)
        for index in stride(from: 0, to: 64, by: 7) {
            var flipped = sig
            flipped[index] ^= 0x04
            XCTAssertNil(try read([good[0], good[1], Fixture.base64URL(flipped)].joined(separator: ".")).signer(trusting: [a.publicKey]), "sig byte \(index)")
        }
    }

    func testEveryFlippedCharacterIsRefused() {
        let compact = token(a)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var chars = Array(compact)
        for index in chars.indices where chars[index] != "." {
            let original = chars[index]
            chars[index] = alphabet[(alphabet.firstIndex(of: original)! + 1) % alphabet.count]
            assertRefused(String(chars), trusting: [a.publicKey, b.publicKey], "character \(index)")
            chars[index] = original
        }
    }

    // MARK: algorithm pinning

    func testOnlyEdDSAIsAccepted() throws {
        let payload = Fixture.base64URL(Array(lautPayload().utf8))
        let kid = LautTrace.keyID(for: a.publicKey)
        for alg in ["none", "None", "NONE", "HS256", "HS512", "RS256", "ES256", "PS256", "Ed25519", "Ed448", "eddsa", "EDDSA", "EdDSA ", " EdDSA", ""] {
            let header = Fixture.base64URL(Array(lautHeader(kid: kid, alg: alg).utf8))
            // Unsecured form: empty signature.
            assertTraceError(.unsupported, mentions: ["alg"], try read(header + "." + payload + "."), "alg '\(alg)', empty signature")
            // With a signature that really is A's Ed25519 signature over this signing input.
            let input = header + "." + payload
            let signed = input + "." + Fixture.base64URL(a.sign(Array(input.utf8)).bytes)
            assertTraceError(.unsupported, mentions: ["alg"], try read(signed), "alg '\(alg)', Ed25519 signature")
            // An HMAC-sized tag.
            assertTraceError(.unsupported, mentions: ["alg"], try read(input + "." + Fixture.base64URL([UInt8](repeating: 1, count: 32))), "alg '\(alg)'")
        }
        // alg missing or not a string.
        for header in [#"{"type":"laut","v":"2","crv":"Ed25519"}"#, #"{"alg":null,"type":"laut","v":"2"}"#, #"{"alg":["EdDSA"],"type":"laut","v":"2"}"#] {
            assertTraceError(.malformed, mentions: ["alg"], try read(jws(header: header, payload: lautPayload(), key: a)), header)
        }
        // Two alg members: refused by the strict JSON parser, whichever comes last.
        for header in [#"{"alg":"none","alg":"EdDSA","type":"laut","v":"2"}"#, #"{"alg":"EdDSA","alg":"none","type":"laut","v":"2"}"#] {
            assertTraceError(.malformed, try read(jws(header: header, payload: lautPayload(), key: a)), header)
        }
    }

    func testCurveAndCritAreChecked() throws {
        for extra in [#""crv":"Ed448""#, #""crv":"X25519""#, #""crv":1"#, #""crv":null"#, #""crit":["exp"]"#, #""crit":[]"#] {
            let header = #"{"alg":"EdDSA","type":"laut","v":"2",\#(extra)}"#
            assertTraceError(.unsupported, try read(jws(header: header, payload: lautPayload(), key: a)), header)
        }
    }

    func testLautTypeAndVersionArePinned() throws {
        let headers = [
            #"{"alg":"EdDSA","crv":"Ed25519","v":"2"}"#,
            #"{"alg":"EdDSA","crv":"Ed25519","type":"JWT","v":"2"}"#,
            #"{"alg":"EdDSA","crv":"Ed25519","typ":"laut","v":"2"}"#,
            #"{"alg":"EdDSA","crv":"Ed25519","type":"Laut","v":"2"}"#,
            #"{"alg":"EdDSA","crv":"Ed25519","type":"laut"}"#,
            #"{"alg":"EdDSA","crv":"Ed25519","type":"laut","v":"1"}"#,
            #"{"alg":"EdDSA","crv":"Ed25519","type":"laut","v":"3"}"#,
            #"{"alg":"EdDSA","crv":"Ed25519","type":"laut","v":2}"#,
            #"{"alg":"EdDSA","crv":"Ed25519","type":"laut","v":"2.0"}"#,
        ]
        for header in headers {
            assertTraceError(.unsupported, try read(jws(header: header, payload: lautPayload(), key: a)), header)
        }
    }

    // MARK: compact serialization

    func testExactlyThreeSegments() {
        let s = segments(token(a))
        for compact in ["", s[0], s[0] + "." + s[1], s.joined(separator: ".") + ".", s.joined(separator: ".") + "." + s[2],
                        "." + s.joined(separator: "."), s[0] + ".." + s[1] + "." + s[2], "..", "..."] {
            assertTraceError(.malformed, try read(compact), "\(compact.filter { $0 == "." }.count) dots")
        }
    }

    func testSegmentsMustBeStrictBase64URL() {
        let s = segments(token(a))
        func variants(_ segment: String) -> [String] {
            var out = [segment + "=", segment + "==", " " + segment, segment + " ", segment + "\n", segment + "\r\n",
                       "+" + segment.dropFirst(), "/" + segment.dropFirst(), String(segment.prefix(10)) + "\t" + segment.dropFirst(10)]
            // Standard-alphabet spelling of a segment that contains '-' or '_'.
            if segment.contains("-") || segment.contains("_") {
                out.append(String(segment.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 }))
            }
            // Length ≡ 1 (mod 4).
            out.append(String(segment.prefix((segment.count - 1) / 4 * 4 + 1)))
            return out
        }
        for index in 0..<3 {
            for variant in variants(s[index]) {
                var parts = s
                parts[index] = variant
                assertTraceError(.malformed, try read(parts.joined(separator: ".")), "segment \(index): \(variant.suffix(6).debugDescription)")
            }
        }
        assertTraceError(.malformed, try read(token(a) + "\n"))
    }

    func testSignatureMustBe64Bytes() {
        let s = segments(token(a))
        let sig = decodeURL(s[2])
        for bytes in [[], Array(sig.prefix(63)), sig + [0], sig + sig] {
            assertTraceError(.malformed, mentions: ["64"], try read(s[0] + "." + s[1] + "." + Fixture.base64URL(bytes)), "\(bytes.count) bytes")
        }
    }

    func testHeaderMustBeAJSONObject() {
        let payload = lautPayload()
        for header in ["", "null", "[]", #""EdDSA""#, "{", #"{"alg":"EdDSA","type":"laut","v":"2"} "# + "x", "\u{FEFF}{}"] {
            assertTraceError(.malformed, try read(jws(header: header, payload: payload, key: a)), header)
        }
    }

    // MARK: payload

    func testPayloadFieldsAreChecked() throws {
        let header = lautHeader(kid: LautTrace.keyID(for: a.publicKey))
        let sha1 = HashAlgorithm.sha1.digest(Array("x".utf8)).description
        let payloads: [(String, String)] = [
            (lautPayload(rdrv: String(rdrv.dropLast())), "rdrv_aterm_ca"),
            (lautPayload(rdrv: rdrv + "0"), "rdrv_aterm_ca"),
            (lautPayload(rdrv: "e" + rdrv.dropFirst()), "rdrv_aterm_ca"),
            (lautPayload(rdrv: Fixture.path("resolved", "xz-5.8.1.drv").baseName), "rdrv_aterm_ca"),
            (#"{"in":{},"out":{"nix":{"out":{"path":"\#(outPath.absolute)","hash":"\#(outHash)"}}}}"#, "rdrv_aterm_ca"),
            (#"{"in":{"rdrv_aterm_ca":1},"out":{"nix":{"out":{"path":"\#(outPath.absolute)","hash":"\#(outHash)"}}}}"#, "rdrv_aterm_ca"),
            (#"{"in":{"rdrv_aterm_ca":"\#(rdrv)"}}"#, "out.nix"),
            (#"{"in":{"rdrv_aterm_ca":"\#(rdrv)"},"out":{"nix":{}}}"#, "out.nix"),
            (#"{"in":{"rdrv_aterm_ca":"\#(rdrv)"},"out":{"nix":[]}}"#, "out.nix"),
            (#"{"in":{"rdrv_aterm_ca":"\#(rdrv)"},"out":{"nix":{"out":{"hash":"\#(outHash)"}}}}"#, "out.nix.out"),
            (#"{"in":{"rdrv_aterm_ca":"\#(rdrv)"},"out":{"nix":{"out":{"path":"\#(outPath.absolute)"}}}}"#, "out.nix.out"),
            (lautPayload(outputs: [("out", outPath.absolute, sha1)]), "out.nix.out"),
            (lautPayload(outputs: [("out", outPath.absolute, "sha256:xyz")]), "out.nix.out"),
            (lautPayload(outputs: [("out", "/gnu/store/" + outPath.baseName, outHash.description)]), "out.nix.out"),
            (lautPayload(outputs: [("out", outPath.absolute + "/bin", outHash.description)]), "out.nix.out"),
            (lautPayload(outputs: [("dev", "not-a-store-path", outHash.description)]), "out.nix.dev"),
        ]
        for (payload, field) in payloads {
            assertTraceError(.invalidField, mentions: [field], try read(jws(header: header, payload: payload, key: a)), payload)
        }
        for payload in ["[]", "null", "{}", "1"] {
            assertTraceError(.invalidField, mentions: ["rdrv_aterm_ca"], try read(jws(header: header, payload: payload, key: a)), payload)
        }
        for payload in ["", "{", lautPayload() + "x", #"{"in":{"rdrv_aterm_ca":"a","rdrv_aterm_ca":"b"}}"#] {
            assertTraceError(.malformed, mentions: ["payload"], try read(jws(header: header, payload: payload, key: a)), payload)
        }
    }

    // MARK: key ids and vectors

    func testKeyIDReproducesLautVectors() throws {
        XCTAssertEqual(LautTrace.keyID(for: try NixPublicKey(parsing: LautVectors.builderA)), "builderA:bcda8d54470fea3b")
        XCTAssertEqual(LautTrace.keyID(for: try NixPublicKey(parsing: LautVectors.builderB)), "builderB:d9780179d7239d51")
        let rfc = try rfc8032Key()
        XCTAssertEqual(LautTrace.keyID(for: rfc.publicKey), "rfc8032:06e3fd8fda29bb60")
        // The hex part depends on the key material only.
        XCTAssertEqual(LautTrace.keyID(for: NixPublicKey(name: "other", key: rfc.publicKey.key)), "other:06e3fd8fda29bb60")
    }

    /// The RFC 8032 §7.1 TEST 1 key as a Nix secret key.
    func rfc8032Key() throws -> NixSecretKey {
        let seed = Base16.decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!
        let pub = Base16.decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")!
        return try NixSecretKey(parsing: "rfc8032:" + Base64.encode(seed + pub))
    }

    func testRFC8037VectorVerifiesButIsNotALautTrace() throws {
        let vector = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        let key = try rfc8032Key()
        XCTAssertEqual(Fixture.base64URL(key.publicKey.raw), "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
        // Our base64url + Ed25519 reproduce the RFC's JWS exactly.
        XCTAssertEqual(jws(header: #"{"alg":"EdDSA"}"#, payload: "Example of Ed25519 signing", key: key), vector)
        // The signature verifies over the signing input…
        let parts = segments(vector)
        let signature = NixSignature(keyName: "rfc8032", bytes: decodeURL(parts[2]))
        XCTAssertTrue(key.publicKey.isValid(signature: signature, for: Array((parts[0] + "." + parts[1]).utf8)))
        // …but the header has no laut type, so it is not a laut trace.
        assertTraceError(.unsupported, mentions: ["laut"], try read(vector))
    }

    // MARK: files

    func testParseFileWithTwoBuilders() throws {
        let file = #"{"signatures":["\#(token(a))","\#(token(b))"]}"#
        let traces = try LautTrace.parseFile(Array(file.utf8), source: "cache/traces/\(rdrv)")
        XCTAssertEqual(traces.count, 2)
        XCTAssertEqual(traces.map { $0.signer(trusting: [a.publicKey, b.publicKey]) }, [a.publicKey, b.publicKey])
        XCTAssertEqual(traces.map { $0.signer(trusting: [b.publicKey]) }, [nil, b.publicKey])
        XCTAssertEqual(traces.map(\.resolvedDerivationHash), [rdrv, rdrv])
        XCTAssertEqual(try LautTrace.parseFile(Array(#"{"signatures":[]}"#.utf8), source: "t"), [])
        // Unknown members are ignored; whitespace is fine.
        XCTAssertEqual(try LautTrace.parseFile(Array("{\n  \"signatures\": [\n    \"\(token(a))\"\n  ],\n  \"x\": 1\n}\n".utf8), source: "t").count, 1)
    }

    func testParseFileErrors() {
        let good = token(a)
        assertTraceError(.malformed, mentions: ["signatures"], try LautTrace.parseFile(Array("{}".utf8), source: "t"))
        assertTraceError(.malformed, mentions: ["signatures"], try LautTrace.parseFile(Array(#"{"signatures":"\#(good)"}"#.utf8), source: "t"))
        assertTraceError(.malformed, mentions: ["signatures[1]"], try LautTrace.parseFile(Array(#"{"signatures":["\#(good)",1]}"#.utf8), source: "t"))
        assertTraceError(.malformed, try LautTrace.parseFile(Array(#"["\#(good)"]"#.utf8), source: "t"))
        assertTraceError(.malformed, try LautTrace.parseFile(Array(#"{"signatures":["\#(good)"]"#.utf8), source: "t"))
        // One bad token spoils the file, and the error names which one.
        do throws(TraceError) {
            _ = try LautTrace.parseFile(Array(#"{"signatures":["\#(good)","\#(good).x"]}"#.utf8), source: "file")
            XCTFail("accepted a four-segment JWS")
        } catch {
            XCTAssertEqual(error.code, .malformed)
            XCTAssertTrue(error.source.contains("signatures[1]"), error.description)
        }
    }

    func testRealLautTraceFileVerifies() throws {
        let builderA = try NixPublicKey(parsing: LautVectors.builderA)
        let builderB = try NixPublicKey(parsing: LautVectors.builderB)
        let traces = try LautTrace.parseFile(Array(LautVectors.xzTraceFile.utf8), source: "027ncgb2imrp0jzgdz1yhyhrwxz2qs1c")
        XCTAssertEqual(traces.count, 2)
        XCTAssertEqual(traces[0].keyID, LautTrace.keyID(for: builderA))
        XCTAssertEqual(traces[1].keyID, LautTrace.keyID(for: builderB))
        XCTAssertEqual(traces[0].signer(trusting: [builderA, builderB]), builderA)
        XCTAssertEqual(traces[1].signer(trusting: [builderA, builderB]), builderB)
        XCTAssertEqual(traces[1].signer(trusting: [builderB, builderA]), builderB)
        XCTAssertNil(traces[0].signer(trusting: [builderB]))
        XCTAssertNil(traces[1].signer(trusting: [builderA]))
        for trace in traces {
            XCTAssertEqual(trace.resolvedDerivationHash, "027ncgb2imrp0jzgdz1yhyhrwxz2qs1c")
            XCTAssertEqual(Set(trace.outputs.keys), ["bin", "dev", "doc", "man", "out"])
            XCTAssertEqual(trace.outputs["out"]?.path.absolute, "/nix/store/5gb1k5jc0dc6w78356rjnwcl9nw0rdnx-xz-5.8.1")
            XCTAssertEqual(trace.outputs["out"]?.narHash.base16, "76849fa14fa2d13c43187c43341ddca45c701a1ae447fd5d0dd3b7d380977118")
            XCTAssertEqual(trace.outputs["bin"]?.path.absolute, "/nix/store/417bdf1jjmdbp7zx0bvxa1xr7246fh44-xz-5.8.1-bin")
        }
        // Both builders agree on every output.
        XCTAssertEqual(traces[0].outputs, traces[1].outputs)
        // Re-signing builderA's exact segments with another key does not make it builderA's.
        let parts = segments(traces[0].compact)
        let input = parts[0] + "." + parts[1]
        let forged = input + "." + Fixture.base64URL(a.sign(Array(input.utf8)).bytes)
        XCTAssertNil(try read(forged).signer(trusting: [builderA, builderB]))
    }

    func testOversizedTokenIsRefused() {
        assertTraceError(.malformed, try read(String(repeating: "A", count: LautTrace.maximumSize + 1)))
    }

    // MARK: helpers

    func decodeURL(_ segment: String) -> [UInt8] {
        var text = segment.map { $0 == "-" ? "+" : $0 == "_" ? "/" : String($0) }.joined()
        while text.count % 4 != 0 { text += "=" }
        return Base64.decode(text)!
    }
}
