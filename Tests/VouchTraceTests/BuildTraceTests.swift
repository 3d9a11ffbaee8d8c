import NixFormats
import VouchTrace
import XCTest

/// The in-toto statement of a ``BuildTrace``: canonical bytes, round trip, and every check
/// `BuildTrace(statement:source:)` makes (docs/trace-format.md, "Statement").
final class BuildTraceTests: XCTestCase {
    let builder = Fixture.key("builder-a")

    func read(_ statement: JSONValue) throws -> BuildTrace { try BuildTrace(statement: statement, source: "test") }

    func readBytes(_ bytes: [UInt8]) throws -> BuildTrace { try read(try JSONValue(parsing: bytes)) }

    var statement: JSONValue { Fixture.trace(builder: builder.publicKey).statement }

    /// Index of the first resolved dependency that carries derivation/output annotations.
    var annotated: Int {
        statement.at("predicate.buildDefinition.resolvedDependencies")!.array!.firstIndex { $0["annotations"] != nil }!
    }

    // MARK: round trip and determinism

    func testRealisticTraceRoundTripsThroughCanonicalBytes() throws {
        let trace = Fixture.trace(builder: builder.publicKey)
        let bytes = trace.statementBytes
        let back = try readBytes(bytes)
        XCTAssertEqual(back, trace)
        XCTAssertEqual(back.statementBytes, bytes)
        XCTAssertEqual(back.outputs.count, 3)
        XCTAssertEqual(back.inputs.count, 40)
        XCTAssertEqual(back.builtDerivation, trace.resolvedDerivation)
        XCTAssertEqual(try JSONValue(parsing: bytes).canonicalBytes, bytes, "statement bytes are already canonical")
    }

    func testMinimalTraceRoundTrips() throws {
        let trace = BuildTrace(derivation: Fixture.path("d", "x.drv"), system: "aarch64-darwin",
                               outputs: [.init(name: "out", path: Fixture.path("o", "x"), narHash: Fixture.hash("o"), narSize: 1)],
                               inputs: [], builderKey: builder.publicKey, implementation: "lix", implementationVersion: "2.91.1",
                               invocationID: "", builtBySigner: false)
        let back = try readBytes(trace.statementBytes)
        XCTAssertEqual(back, trace)
        XCTAssertNil(back.resolvedDerivation)
        XCTAssertNil(back.startedOn)
        XCTAssertNil(back.finishedOn)
        XCTAssertEqual(back.builtDerivation, trace.derivation)
        XCTAssertFalse(back.builtBySigner)
        XCTAssertEqual(back.attestations, [])
        XCTAssertEqual(back.implementation, "lix")
        let s = trace.statement
        XCTAssertNil(s.at("predicate.buildDefinition.externalParameters.resolvedDerivation"))
        XCTAssertNil(s.at("predicate.runDetails.metadata.startedOn"))
        XCTAssertNil(s.at("predicate.runDetails.byproducts"))
        XCTAssertEqual(s.at("predicate.buildDefinition.resolvedDependencies"), .array([]))
    }

    func testOtherStoreDirRoundTrips() throws {
        let trace = Fixture.trace(builder: builder.publicKey, outputs: 2, inputs: 5, storeDir: "/gnu/store")
        XCTAssertEqual(trace.statement.at("predicate.buildDefinition.internalParameters.storeDir"), .string("/gnu/store"))
        XCTAssertEqual(try readBytes(trace.statementBytes), trace)
        // A path outside the declared store directory is refused.
        let mixed = trace.statement.setting("subject.0.name", to: .string(Fixture.path("o", "x").absolute))
        assertTraceError(.invalidField, mentions: ["subject[0].name"], try read(mixed))
    }

    func testManyOutputsAndSpecialCharactersRoundTrip() throws {
        var trace = Fixture.trace(builder: builder.publicKey, outputs: 7, inputs: 3)
        trace.invocationID = "quote\" backslash\\ newline\n tab\t nul\u{0} é 😀"
        trace.system = "x86_64-linux"
        trace.attestations = [.init(type: "a", evidence: []), .init(type: "b", evidence: [0xff]), .init(type: "a", evidence: [1, 2])]
        let back = try readBytes(trace.statementBytes)
        XCTAssertEqual(back, trace)
        XCTAssertEqual(back.attestations, trace.attestations, "attestation order is kept")
    }

    func testSameContentInAnyOrderGivesIdenticalBytes() throws {
        let trace = Fixture.trace(builder: builder.publicKey)
        var generator = SeededGenerator(seed: 42)
        for _ in 0..<10 {
            var shuffled = trace
            shuffled.inputs.shuffle(using: &generator)
            shuffled.outputs.shuffle(using: &generator)
            XCTAssertEqual(shuffled.statementBytes, trace.statementBytes)
            XCTAssertEqual(try readBytes(shuffled.statementBytes), trace, "reading gives canonical order")
        }
        XCTAssertEqual(trace.statementBytes, trace.statementBytes)
        XCTAssertEqual(Fixture.trace(builder: builder.publicKey).statementBytes, trace.statementBytes)
    }

    func testDifferentContentGivesDifferentBytes() {
        let trace = Fixture.trace(builder: builder.publicKey)
        var changed = trace
        changed.inputs[7].narHash = Fixture.hash("other")
        XCTAssertNotEqual(changed.statementBytes, trace.statementBytes)
        changed = trace
        changed.builtBySigner = false
        XCTAssertNotEqual(changed.statementBytes, trace.statementBytes)
    }

    func testStatementShape() throws {
        let trace = Fixture.trace(builder: builder.publicKey)
        let s = trace.statement
        XCTAssertEqual(s["_type"], .string("https://in-toto.io/Statement/v1"))
        XCTAssertEqual(s["predicateType"], .string("https://slsa.dev/provenance/v1"))
        XCTAssertEqual(s.at("predicate.buildDefinition.buildType"), .string("urn:vouch:buildtype:nix-derivation:v1"))
        XCTAssertEqual(s.at("predicate.runDetails.builder.id"), .string("urn:vouch:nix-key:" + builder.publicKey.description))
        XCTAssertEqual(s.at("predicate.runDetails.builder.version"), .object(["nix": .string("2.8.0")]))
        XCTAssertEqual(s.at("predicate.buildDefinition.externalParameters.outputs"), .array([.string("dev"), .string("lib"), .string("out")]))
        let subjects = try XCTUnwrap(s["subject"]?.array)
        XCTAssertEqual(subjects.map { $0.at("annotations.output") }, [.string("dev"), .string("lib"), .string("out")])
        XCTAssertEqual(subjects[2].at("digest.sha256"), .string(trace.outputs[2].narHash.base16))
        XCTAssertEqual(subjects[2]["name"], .string(trace.outputs[2].path.absolute))
        let deps = try XCTUnwrap(s.at("predicate.buildDefinition.resolvedDependencies")?.array)
        let names = deps.compactMap { $0["name"]?.string }
        XCTAssertEqual(names, names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        XCTAssertNil(deps.first { $0["name"] == .string(trace.inputs.first { $0.derivation == nil }!.path.absolute) }?["annotations"],
                     "plain sources carry no annotations")
        XCTAssertEqual(s.at("predicate.runDetails.byproducts.0"), .object([
            "name": .string("attestation"), "mediaType": .string("application/vnd.example.tpm-quote"),
            "content": .string(Base64.encode(Array(0..<48))),
        ]))
    }

    /// The example in docs/trace-format.md: its pretty-printed statement, canonicalised, must be
    /// exactly what BuildTrace writes for the same trace, and the example signature must verify.
    func testDocumentedExampleIsByteExact() throws {
        let documented = """
        {"_type":"https://in-toto.io/Statement/v1","predicate":{"buildDefinition":{"buildType":"urn:vouch:buildtype:nix-derivation:v1",
         "externalParameters":{"derivation":"/nix/store/yhfnlapxbr1gdyjwvy7fbp18iai8ky3g-ca-b.drv","outputs":["out"],
         "resolvedDerivation":"/nix/store/0agh0hda6gwfx9bk2jyvdi06ii6v81fa-ca-b.drv"},
         "internalParameters":{"builtBySigner":true,"storeDir":"/nix/store","system":"x86_64-linux"},
         "resolvedDependencies":[{"annotations":{"derivation":"/nix/store/1bwi0303mkr4ncvwdmdlfhkhjdk7lk60-ca-a.drv","output":"out"},
         "digest":{"sha256":"c2286a177b1755da55c97bd8cf51a6de48ad8e7fb1a7eb5ace039b2647fb89ab"},"name":"/nix/store/a7r5dx2r9g9lrv2fx25p0ljlhycj25ad-ca-a"}]},
         "runDetails":{"builder":{"id":"urn:vouch:nix-key:builder-a:OQ6n75lsl+Wx1SRhDlK7V7Y/BFR/PEuzzdBk5KRoqUs=","version":{"nix":"2.8.0"}},
         "metadata":{"finishedOn":"2026-11-22T03:57:13Z","invocationId":"d6b72924-f194-461d-af5a-dfddc90b7d5b"}}},
         "predicateType":"https://slsa.dev/provenance/v1",
         "subject":[{"annotations":{"narSize":184,"output":"out"},"digest":{"sha256":"7471f584ee73ee7100bc333eefab46b39d40bf67229309fa744d6864055ef0cb"},
         "name":"/nix/store/yawp18nksl9jlwr8scvgga6r7dqm6fmg-ca-b"}]}
        """
        let key = try NixPublicKey(parsing: "builder-a:OQ6n75lsl+Wx1SRhDlK7V7Y/BFR/PEuzzdBk5KRoqUs=")
        let trace = BuildTrace(
            derivation: try StorePath(absolutePath: "/nix/store/yhfnlapxbr1gdyjwvy7fbp18iai8ky3g-ca-b.drv"),
            resolvedDerivation: try StorePath(absolutePath: "/nix/store/0agh0hda6gwfx9bk2jyvdi06ii6v81fa-ca-b.drv"),
            system: "x86_64-linux",
            outputs: [.init(name: "out", path: try StorePath(absolutePath: "/nix/store/yawp18nksl9jlwr8scvgga6r7dqm6fmg-ca-b"),
                            narHash: try NixHash(parsing: "sha256:7471f584ee73ee7100bc333eefab46b39d40bf67229309fa744d6864055ef0cb"), narSize: 184)],
            inputs: [.init(path: try StorePath(absolutePath: "/nix/store/a7r5dx2r9g9lrv2fx25p0ljlhycj25ad-ca-a"),
                           narHash: try NixHash(parsing: "sha256:c2286a177b1755da55c97bd8cf51a6de48ad8e7fb1a7eb5ace039b2647fb89ab"),
                           derivation: try StorePath(absolutePath: "/nix/store/1bwi0303mkr4ncvwdmdlfhkhjdk7lk60-ca-a.drv"), output: "out")],
            builderKey: key, implementationVersion: "2.8.0", finishedOn: "2026-11-22T03:57:13Z",
            invocationID: "d6b72924-f194-461d-af5a-dfddc90b7d5b")
        let canonical = Fixture.parse(documented).canonicalBytes
        XCTAssertEqual(String(decoding: trace.statementBytes, as: UTF8.self), String(decoding: canonical, as: UTF8.self))
        XCTAssertEqual(try readBytes(canonical), trace)
        let envelope = DSSEEnvelope(payloadType: DSSEEnvelope.inTotoPayloadType, payload: trace.statementBytes, signatures: [
            .init(keyID: key.description, bytes: Base64.decode("QxRW20UT50eebAVDxkJGv0RGn6P3FsnZlFT0thXCZg6Yl0xqnDx4O8hqi2xugLmATzCLKpVJ2nFP97Uph+zfDA==")!),
        ])
        let signed = try SignedTrace(parsing: envelope.json, source: "docs")
        XCTAssertEqual(signed.verify(trusting: [key]), [.valid(key)], "the documented signature verifies over the documented statement")
    }

    // MARK: required fields

    /// (path to drop or retype, text the error must mention). Every entry names a field the reader requires.
    var requiredFields: [(String, String)] { [
        ("_type", "_type"),
        ("predicateType", "predicateType"),
        ("subject", "subject"),
        ("subject.0.name", "subject[0].name"),
        ("subject.0.digest", "subject[0].digest"),
        ("subject.0.digest.sha256", "subject[0].digest"),
        ("subject.0.annotations", "subject[0].annotations"),
        ("subject.0.annotations.output", "subject[0].annotations.output"),
        ("subject.0.annotations.narSize", "subject[0].annotations.narSize"),
        ("predicate", "buildType"),
        ("predicate.buildDefinition", "buildType"),
        ("predicate.buildDefinition.buildType", "buildType"),
        ("predicate.buildDefinition.externalParameters", "externalParameters"),
        ("predicate.buildDefinition.externalParameters.derivation", "externalParameters.derivation"),
        ("predicate.buildDefinition.externalParameters.outputs", "externalParameters.outputs"),
        ("predicate.buildDefinition.internalParameters", "internalParameters"),
        ("predicate.buildDefinition.internalParameters.system", "internalParameters.system"),
        ("predicate.buildDefinition.internalParameters.storeDir", "internalParameters.storeDir"),
        ("predicate.buildDefinition.internalParameters.builtBySigner", "internalParameters.builtBySigner"),
        ("predicate.buildDefinition.resolvedDependencies", "resolvedDependencies"),
        ("predicate.buildDefinition.resolvedDependencies.\(annotated).name", "resolvedDependencies[\(annotated)].name"),
        ("predicate.buildDefinition.resolvedDependencies.\(annotated).digest", "resolvedDependencies[\(annotated)].digest"),
        ("predicate.buildDefinition.resolvedDependencies.\(annotated).digest.sha256", "resolvedDependencies[\(annotated)].digest"),
        ("predicate.runDetails", "runDetails.builder"),
        ("predicate.runDetails.builder", "runDetails.builder"),
        ("predicate.runDetails.builder.id", "runDetails.builder.id"),
        ("predicate.runDetails.builder.version", "runDetails.builder.version"),
        ("predicate.runDetails.metadata", "invocationId"),
        ("predicate.runDetails.metadata.invocationId", "runDetails.metadata.invocationId"),
    ] }

    func testEveryRequiredFieldMissingIsRefusedNamingIt() throws {
        let good = statement
        XCTAssertNoThrow(try read(good))
        for (path, field) in requiredFields {
            XCTAssertNotNil(good.at(path), "fixture lacks \(path)")
            assertTraceError(.invalidField, mentions: [field], try read(good.setting(path, to: nil)), "dropping \(path)")
        }
    }

    func testEveryRequiredFieldWithTheWrongTypeIsRefusedNamingIt() throws {
        let good = statement
        for (path, field) in requiredFields {
            let original = good.at(path)!
            // A value of another JSON type than the field has.
            let replacements: [JSONValue] = switch original {
            case .string: [.int(7), .null, .bool(true), .array([original]), .object(["x": original])]
            case .int: [.string("184"), .null, .bool(true), .array([original])]
            case .bool: [.string("true"), .int(1), .null]
            case .array: [.string("x"), .object([:]), .null, .int(0)]
            case .object: [.string("x"), .array([original]), .null, .int(0)]
            case .null: []
            }
            for replacement in replacements {
                assertTraceError(.invalidField, mentions: [field], try read(good.setting(path, to: replacement)), "\(path) = \(replacement)")
            }
        }
    }

    func testStatementMustBeAnObject() {
        for value: JSONValue in [.array([statement]), .string("x"), .null, .int(1)] {
            assertTraceError(.invalidField, mentions: ["statement"], try read(value))
        }
    }

    func testWrongTypeURIsAreRefused() {
        let s = statement
        assertTraceError(.invalidField, mentions: ["_type"], try read(s.setting("_type", to: .string("https://in-toto.io/Statement/v0.1"))))
        assertTraceError(.invalidField, mentions: ["_type"], try read(s.setting("_type", to: .string("https://in-toto.io/Statement/v1/"))))
        assertTraceError(.invalidField, mentions: ["predicateType"], try read(s.setting("predicateType", to: .string("https://slsa.dev/provenance/v0.2"))))
        assertTraceError(.invalidField, mentions: ["buildType"],
                         try read(s.setting("predicate.buildDefinition.buildType", to: .string("https://example.org/nix-trace/v1"))))
    }

    func testOptionalFieldsMayBeAbsentAndUnknownFieldsAreIgnored() throws {
        let s = statement
        for path in ["predicate.buildDefinition.externalParameters.resolvedDerivation", "predicate.runDetails.metadata.startedOn",
                     "predicate.runDetails.metadata.finishedOn", "predicate.runDetails.byproducts",
                     "predicate.buildDefinition.resolvedDependencies.\(annotated).annotations"] {
            XCTAssertNotNil(s.at(path), path)
            XCTAssertNoThrow(try read(s.setting(path, to: nil)), path)
        }
        let extended = s.setting("predicate.runDetails.builder.builderDependencies", to: .array([]))
            .setting("subject.0.uri", to: .string("pkg:nix/hello"))
            .setting("predicate.buildDefinition.internalParameters.vouch_sandbox", to: .bool(true))
        XCTAssertEqual(try read(extended), try read(s))
        // Byproducts that are not attestations are skipped.
        let log = s.setting("predicate.runDetails.byproducts.0.name", to: .string("build-log"))
        XCTAssertEqual(try read(log).attestations, [])
    }

    // MARK: digests

    func testMalformedDigestsAreRefused() throws {
        let hex = Fixture.hash("x").base16
        let bad = [hex.uppercased(), String(hex.prefix(63)), hex + "0", String(hex.dropLast()) + "g", String(hex.dropLast()) + "A",
                   "sha256:" + hex, Fixture.hash("x").nix32, "", " " + String(hex.dropFirst()), String(hex.dropLast(2)) + "é"]
        for path in ["subject.1.digest.sha256", "predicate.buildDefinition.resolvedDependencies.4.digest.sha256"] {
            let field = path.hasPrefix("subject") ? "subject[1].digest.sha256" : "resolvedDependencies[4].digest.sha256"
            for text in bad {
                assertTraceError(.invalidField, mentions: [field], try read(statement.setting(path, to: .string(text))), "digest '\(text)'")
            }
            assertTraceError(.invalidField, mentions: [field], try read(statement.setting(path, to: .int(0))))
        }
        // A digest set without sha256 is refused; extra algorithms next to sha256 are ignored.
        assertTraceError(.invalidField, mentions: ["subject[0].digest"],
                         try read(statement.setting("subject.0.digest", to: .object(["sha512": .string(String(repeating: "0", count: 128))]))))
        assertTraceError(.invalidField, mentions: ["subject[0].digest"], try read(statement.setting("subject.0.digest", to: .object([:]))))
        let extra = statement.setting("subject.0.digest.sha512", to: .string(String(repeating: "0", count: 128)))
        XCTAssertEqual(try read(extra), try read(statement))
    }

    // MARK: store paths

    func testBadStorePathsAreRefused() throws {
        let good = Fixture.path("x", "hello").absolute
        let hashPart = Fixture.path("x", "hello").hashPart
        let bad = [
            "/nix/var/\(hashPart)-hello",                      // not in the store
            "/nix/store/\(hashPart)-hello/bin/hello",          // not directly inside
            "/nix/store/\(hashPart)",                          // no name
            "/nix/store/\(hashPart)-",                         // empty name
            "/nix/store/e\(hashPart.dropFirst())-hello",       // 'e' is not nix32
            "/nix/store/\(hashPart.dropFirst())-hello",        // 31-character hash part
            "/nix/store/\(hashPart)_hello",                    // no dash after the hash part
            "/nix/store/\(hashPart)-hel lo",                   // illegal name character
            "/nix/store/\(hashPart)-hellö",                    // non-ASCII name
            "/nix/store/\(hashPart)-" + String(repeating: "a", count: 212), // name too long
            "nix/store/\(hashPart)-hello",                     // relative
            "\(hashPart)-hello",                               // base name only
            "/nix/store//\(hashPart)-hello",
            good.uppercased(),
        ]
        let fields = [
            ("subject.0.name", "subject[0].name"),
            ("predicate.buildDefinition.resolvedDependencies.2.name", "resolvedDependencies[2].name"),
        ]
        for (path, field) in fields {
            for text in bad {
                assertTraceError(.invalidField, mentions: [field], try read(statement.setting(path, to: .string(text))), text)
            }
        }
        let drvFields = [
            ("predicate.buildDefinition.externalParameters.derivation", "externalParameters.derivation"),
            ("predicate.buildDefinition.externalParameters.resolvedDerivation", "externalParameters.resolvedDerivation"),
            ("predicate.buildDefinition.resolvedDependencies.\(annotated).annotations.derivation", "resolvedDependencies[\(annotated)].annotations.derivation"),
        ]
        for (path, field) in drvFields {
            for text in bad.filter({ !$0.hasSuffix("-") }).map({ $0 + ".drv" }) {
                assertTraceError(.invalidField, mentions: [field], try read(statement.setting(path, to: .string(text))), text)
            }
        }
    }

    func testDerivationFieldsMustBeDrvPaths() throws {
        let notDrv = Fixture.path("x", "hello").absolute
        for (path, field) in [
            ("predicate.buildDefinition.externalParameters.derivation", "externalParameters.derivation"),
            ("predicate.buildDefinition.externalParameters.resolvedDerivation", "externalParameters.resolvedDerivation"),
            ("predicate.buildDefinition.resolvedDependencies.\(annotated).annotations.derivation", "resolvedDependencies[\(annotated)].annotations.derivation"),
        ] {
            XCTAssertTrue(statement.at(path)?.string?.hasSuffix(".drv") == true, path)
            assertTraceError(.invalidField, mentions: [field], try read(statement.setting(path, to: .string(notDrv))), "\(path) without .drv")
            assertTraceError(.invalidField, mentions: [field], try read(statement.setting(path, to: .string(notDrv + ".drvx"))))
        }
    }

    // MARK: outputs and inputs

    func testDuplicateOutputsAreRefused() throws {
        let s = statement
        let subjects = s["subject"]!.array!
        // The same output twice (also listed twice in externalParameters.outputs).
        let twice = s.setting("subject", to: .array(subjects + [subjects[0]]))
            .setting("predicate.buildDefinition.externalParameters.outputs", to: .array(["dev", "dev", "lib", "out"].map { .string($0) }))
        assertTraceError(.invalidField, mentions: ["subject"], try read(twice))
        // Two subjects with different paths claiming one output name.
        let renamed = s.setting("subject.1.annotations.output", to: .string("dev"))
            .setting("predicate.buildDefinition.externalParameters.outputs", to: .array(["dev", "dev", "out"].map { .string($0) }))
        assertTraceError(.invalidField, mentions: ["subject"], try read(renamed))
        // And via the public initialiser: encoding then reading refuses it.
        var trace = Fixture.trace(builder: builder.publicKey)
        trace.outputs.append(trace.outputs[0])
        assertTraceError(.invalidField, mentions: ["subject"], try readBytes(trace.statementBytes))
    }

    func testDuplicateInputsAreRefused() throws {
        var trace = Fixture.trace(builder: builder.publicKey)
        trace.inputs.append(trace.inputs[5])
        assertTraceError(.invalidField, mentions: ["resolvedDependencies"], try readBytes(trace.statementBytes))
        // Same path, different hash: still one path twice.
        trace = Fixture.trace(builder: builder.publicKey)
        var other = trace.inputs[5]
        other.narHash = Fixture.hash("different")
        trace.inputs.append(other)
        assertTraceError(.invalidField, mentions: ["resolvedDependencies"], try readBytes(trace.statementBytes))
    }

    func testOutputsListMustMatchSubjects() throws {
        let field = "externalParameters.outputs"
        let path = "predicate.buildDefinition.externalParameters.outputs"
        XCTAssertEqual(statement.at(path), .array(["dev", "lib", "out"].map { .string($0) }))
        for names in [["dev", "lib"], ["dev", "lib", "out", "man"], ["dev", "lib", "bin"], [], ["dev", "lib", "out", "out"], ["Dev", "lib", "out"]] {
            assertTraceError(.invalidField, mentions: [field], try read(statement.setting(path, to: .array(names.map { .string($0) }))), "\(names)")
        }
        // Order in the list does not matter.
        XCTAssertNoThrow(try read(statement.setting(path, to: .array(["out", "dev", "lib"].map { .string($0) }))))
    }

    func testOutputsListWithNonStringEntriesIsRefused() throws {
        let path = "predicate.buildDefinition.externalParameters.outputs"
        let list: [JSONValue] = [.string("dev"), .string("lib"), .string("out"), .int(3)]
        assertTraceError(.invalidField, mentions: ["externalParameters.outputs"], try read(statement.setting(path, to: .array(list))))
        let withNull: [JSONValue] = [.string("dev"), .null, .string("lib"), .string("out")]
        assertTraceError(.invalidField, mentions: ["externalParameters.outputs"], try read(statement.setting(path, to: .array(withNull))))
    }

    func testOutputNamesAndSizesAreChecked() throws {
        for name in ["", "o/ut", "o ut", "out\n", "ö"] {
            var s = statement.setting("subject.0.annotations.output", to: .string(name))
            s = s.setting("predicate.buildDefinition.externalParameters.outputs", to: .array([name, "lib", "out"].map { .string($0) }))
            assertTraceError(.invalidField, mentions: ["subject[0].annotations.output"], try read(s), "output name '\(name)'")
        }
        for size: JSONValue in [.int(0), .int(-1), .string("184"), .null] {
            assertTraceError(.invalidField, mentions: ["subject[0].annotations.narSize"],
                             try read(statement.setting("subject.0.annotations.narSize", to: size)))
        }
        XCTAssertEqual(try read(statement.setting("subject.0.annotations.narSize", to: .int(Int64.max))).outputs[0].narSize, UInt64(Int64.max))
    }

    func testDerivationAndOutputAnnotationsGoTogether() {
        let dep = "predicate.buildDefinition.resolvedDependencies.\(annotated)"
        assertTraceError(.invalidField, mentions: ["resolvedDependencies[\(annotated)]"], try read(statement.setting("\(dep).annotations.output", to: nil)))
        assertTraceError(.invalidField, mentions: ["resolvedDependencies[\(annotated)]"], try read(statement.setting("\(dep).annotations.derivation", to: nil)))
        assertTraceError(.invalidField, mentions: ["resolvedDependencies[\(annotated)].annotations.output"],
                         try read(statement.setting("\(dep).annotations.output", to: .int(1))))
    }

    // MARK: timestamps

    func testBadTimestampsAreRefused() throws {
        let bad = ["2026-11-22T03:07:31", "2026-11-22 03:07:31Z", "2026-11-22T03:07:31+00:00", "2026-11-22t03:07:31z",
                   "2026-11-22T03:07:31.5Z", "26-11-22T03:07:31Z", "2026/11/22T03:07:31Z", "2026-1-22T03:07:31Z",
                   "２026-11-22T03:07:31Z", "", "1732244851", "2026-11-22T03:07:31Z ", " 2026-11-22T03:07:31Z"]
        for field in ["startedOn", "finishedOn"] {
            for text in bad {
                assertTraceError(.invalidField, try read(statement.setting("predicate.runDetails.metadata.\(field)", to: .string(text))), "\(field) '\(text)'")
            }
            assertTraceError(.invalidField, mentions: [field], try read(statement.setting("predicate.runDetails.metadata.\(field)", to: .int(1732244851))))
            assertTraceError(.invalidField, mentions: [field], try read(statement.setting("predicate.runDetails.metadata.\(field)", to: .null)))
        }
    }

    func testBadTimestampErrorNamesTheField() {
        // A well-typed but malformed timestamp should say which field it is in, like every other field error.
        assertTraceError(.invalidField, mentions: ["finishedOn"],
                         try read(statement.setting("predicate.runDetails.metadata.finishedOn", to: .string("2026-11-22T03:07:31"))))
    }

    func testOutOfRangeTimestampsAreRefused() throws {
        var accepted = [String]()
        for text in ["2026-13-22T03:07:31Z", "2026-00-22T03:07:31Z", "2026-11-32T03:07:31Z", "2026-11-00T03:07:31Z",
                     "2026-11-22T24:07:31Z", "2026-11-22T03:60:31Z", "2026-11-22T03:07:61Z", "2026-02-30T03:07:31Z"] {
            if (try? read(statement.setting("predicate.runDetails.metadata.startedOn", to: .string(text)))) != nil { accepted.append(text) }
        }
        XCTAssertEqual(accepted, [], "timestamps with out-of-range fields were accepted")
        XCTAssertNoThrow(try read(statement.setting("predicate.runDetails.metadata.startedOn", to: .string("2016-12-31T23:59:60Z"))), "leap second")
        XCTAssertNoThrow(try read(statement.setting("predicate.runDetails.metadata.startedOn", to: .string("2024-02-29T00:00:00Z"))), "leap day")
    }

    // MARK: builder

    func testBuilderIDMustBeOurPrefixAndAValidKey() throws {
        let path = "predicate.runDetails.builder.id"
        let key = builder.publicKey.description
        for id in ["https://example.org/builders/a", "urn:vouch:nix-key", "urn:vouch:nix-key:", "urn:vouch:nix-key:" + builder.publicKey.name,
                   "urn:vouch:nix-key:\(builder.publicKey.name):AAAA", "urn:vouch:nix-key::" + Base64.encode(builder.publicKey.raw),
                   "URN:VOUCH:NIX-KEY:" + key, "urn:laut:builder:sha256:bcda8d54470fea3b", key] {
            assertTraceError(.invalidField, mentions: ["runDetails.builder.id"], try read(statement.setting(path, to: .string(id))), id)
        }
        let other = Fixture.key("builder-b").publicKey
        XCTAssertEqual(try read(statement.setting(path, to: .string("urn:vouch:nix-key:" + other.description))).builderKey, other)
    }

    func testBuilderVersionNamesExactlyOneImplementation() throws {
        let path = "predicate.runDetails.builder.version"
        for version: JSONValue in [.object([:]), .object(["nix": .string("2.8.0"), "lix": .string("2.91")]), .object(["nix": .int(2)])] {
            assertTraceError(.invalidField, mentions: ["runDetails.builder.version"], try read(statement.setting(path, to: version)))
        }
    }

    func testAttestationContentMustBeBase64() {
        for content: JSONValue in [.string("not base64!"), .string("AAA"), .int(1), .null] {
            assertTraceError(.invalidField, mentions: ["byproducts[0].content"],
                             try read(statement.setting("predicate.runDetails.byproducts.0.content", to: content)))
        }
        assertTraceError(.invalidField, mentions: ["byproducts[0].mediaType"],
                         try read(statement.setting("predicate.runDetails.byproducts.0.mediaType", to: nil)))
    }
}

/// A small deterministic generator (SplitMix64) so shuffles are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
