import NixFormats

/// One build step's claim, signed by the builder that ran it: which derivation, which
/// inputs it actually used (the resolution record), which outputs it produced.
///
/// Encoded as an in-toto Statement v1 with a SLSA Provenance v1 predicate of build type
/// ``BuildTrace/buildType`` (documented in docs/trace-format.md). The encoding is canonical:
/// the same trace always gives the same bytes.
public struct BuildTrace: Sendable, Hashable {
    public static let statementType = "https://in-toto.io/Statement/v1"
    public static let predicateType = "https://slsa.dev/provenance/v1"
    public static let buildType = "urn:vouch:buildtype:nix-derivation:v1"
    /// Prefix of `runDetails.builder.id`; the rest is the builder's Nix public key.
    public static let builderIDPrefix = "urn:vouch:nix-key:"

    /// An output the build produced.
    public struct Output: Sendable, Hashable {
        public var name: String
        public var path: StorePath
        public var narHash: NixHash
        public var narSize: UInt64
        public init(name: String, path: StorePath, narHash: NixHash, narSize: UInt64) {
            self.name = name
            self.path = path
            self.narHash = narHash
            self.narSize = narSize
        }
    }

    /// A store path the build used; for outputs of input derivations, which derivation output it was.
    public struct Input: Sendable, Hashable {
        public var path: StorePath
        public var narHash: NixHash
        public var derivation: StorePath?
        public var output: String?
        public init(path: StorePath, narHash: NixHash, derivation: StorePath? = nil, output: String? = nil) {
            self.path = path
            self.narHash = narHash
            self.derivation = derivation
            self.output = output
        }
    }

    /// Opaque typed evidence about the build environment (e.g. a TPM quote).
    public struct Attestation: Sendable, Hashable {
        public var type: String
        public var evidence: [UInt8]
        public init(type: String, evidence: [UInt8]) {
            self.type = type
            self.evidence = evidence
        }
    }

    /// The derivation as the user's graph names it (unresolved for CA steps).
    public var derivation: StorePath
    /// For content-addressed steps: the resolved derivation that was actually built.
    public var resolvedDerivation: StorePath?
    public var system: String
    public var outputs: [Output]
    /// The resolution record: every input path the build saw.
    public var inputs: [Input]
    /// Who built it; a trace only counts when signed by this key.
    public var builderKey: NixPublicKey
    /// Build tool, e.g. `nix`, and its version.
    public var implementation: String
    public var implementationVersion: String
    /// RFC 3339 UTC timestamps (`2026-11-22T03:07:31Z`).
    public var startedOn: String?
    public var finishedOn: String?
    public var invocationID: String
    /// The signer's claim that it executed the build itself (not copied or substituted).
    public var builtBySigner: Bool
    public var attestations: [Attestation]

    public init(derivation: StorePath, resolvedDerivation: StorePath? = nil, system: String, outputs: [Output], inputs: [Input],
                builderKey: NixPublicKey, implementation: String = "nix", implementationVersion: String,
                startedOn: String? = nil, finishedOn: String? = nil, invocationID: String, builtBySigner: Bool = true,
                attestations: [Attestation] = []) {
        self.derivation = derivation
        self.resolvedDerivation = resolvedDerivation
        self.system = system
        self.outputs = outputs
        self.inputs = inputs
        self.builderKey = builderKey
        self.implementation = implementation
        self.implementationVersion = implementationVersion
        self.startedOn = startedOn
        self.finishedOn = finishedOn
        self.invocationID = invocationID
        self.builtBySigner = builtBySigner
        self.attestations = attestations
    }

    /// The derivation whose build produced the outputs (the resolved one for CA steps).
    public var builtDerivation: StorePath { resolvedDerivation ?? derivation }
}

extension BuildTrace {
    /// The in-toto statement.
    public var statement: JSONValue {
        var external: [String: JSONValue] = [
            "derivation": .string(derivation.absolute),
            "outputs": .array(outputs.map(\.name).sorted(by: bytewiseLess).map { .string($0) }),
        ]
        if let resolvedDerivation { external["resolvedDerivation"] = .string(resolvedDerivation.absolute) }
        var metadata: [String: JSONValue] = ["invocationId": .string(invocationID)]
        if let startedOn { metadata["startedOn"] = .string(startedOn) }
        if let finishedOn { metadata["finishedOn"] = .string(finishedOn) }
        var runDetails: [String: JSONValue] = [
            "builder": .object([
                "id": .string(Self.builderIDPrefix + builderKey.description),
                "version": .object([implementation: .string(implementationVersion)]),
            ]),
            "metadata": .object(metadata),
        ]
        if !attestations.isEmpty {
            runDetails["byproducts"] = .array(attestations.map {
                .object(["name": .string("attestation"), "mediaType": .string($0.type), "content": .string(Base64.encode($0.evidence))])
            })
        }
        let dependencies: [JSONValue] = inputs.sorted { bytewiseLess($0.path.absolute, $1.path.absolute) }.map { input in
            var annotations: [String: JSONValue] = [:]
            if let derivation = input.derivation { annotations["derivation"] = .string(derivation.absolute) }
            if let output = input.output { annotations["output"] = .string(output) }
            var descriptor: [String: JSONValue] = ["name": .string(input.path.absolute), "digest": .object(["sha256": .string(input.narHash.base16)])]
            if !annotations.isEmpty { descriptor["annotations"] = .object(annotations) }
            return .object(descriptor)
        }
        return .object([
            "_type": .string(Self.statementType),
            "predicateType": .string(Self.predicateType),
            "subject": .array(outputs.sorted { bytewiseLess($0.name, $1.name) }.map { output in
                .object([
                    "name": .string(output.path.absolute),
                    "digest": .object(["sha256": .string(output.narHash.base16)]),
                    "annotations": .object(["output": .string(output.name), "narSize": .int(Int64(output.narSize))]),
                ])
            }),
            "predicate": .object([
                "buildDefinition": .object([
                    "buildType": .string(Self.buildType),
                    "externalParameters": .object(external),
                    "internalParameters": .object(["system": .string(system), "storeDir": .string(derivation.storeDir), "builtBySigner": .bool(builtBySigner)]),
                    "resolvedDependencies": .array(dependencies),
                ]),
                "runDetails": .object(runDetails),
            ]),
        ])
    }

    /// Canonical statement bytes (the DSSE payload).
    public var statementBytes: [UInt8] { statement.canonicalBytes }

    /// Reads a statement, checking every field this build type defines.
    /// - Throws: ``TraceError`` `.invalidField` naming the field.
    public init(statement: JSONValue, source: String) throws(TraceError) {
        func bad(_ field: String, _ why: String) -> TraceError { TraceError(.invalidField, source: source, "\(field): \(why)") }
        func string(_ value: JSONValue?, _ field: String) throws(TraceError) -> String {
            guard let s = value?.string else { throw bad(field, "must be a string") }
            return s
        }
        func path(_ value: JSONValue?, _ field: String, storeDir: String) throws(TraceError) -> StorePath {
            let text = try string(value, field)
            do throws(StorePathError) { return try StorePath(absolutePath: text, storeDir: storeDir) } catch { throw bad(field, error.description) }
        }
        func sha256(_ value: JSONValue?, _ field: String) throws(TraceError) -> NixHash {
            guard let digest = value?.object, digest.count >= 1 else { throw bad(field, "must be a digest set") }
            let hex = try string(digest["sha256"], "\(field).sha256")
            guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }),
                  let bytes = Base16.decode(hex), let hash = try? NixHash(algorithm: .sha256, bytes: bytes) else {
                throw bad("\(field).sha256", "must be 64 lowercase hex digits")
            }
            return hash
        }
        guard statement.object != nil else { throw bad("statement", "must be an object") }
        guard statement["_type"]?.string == Self.statementType else { throw bad("_type", "must be \(Self.statementType)") }
        guard statement["predicateType"]?.string == Self.predicateType else { throw bad("predicateType", "must be \(Self.predicateType)") }
        let definition = statement["predicate"]?["buildDefinition"]
        guard definition?["buildType"]?.string == Self.buildType else { throw bad("predicate.buildDefinition.buildType", "must be \(Self.buildType)") }
        let internals = definition?["internalParameters"]
        let storeDir = try string(internals?["storeDir"], "internalParameters.storeDir")
        let external = definition?["externalParameters"]
        derivation = try path(external?["derivation"], "externalParameters.derivation", storeDir: storeDir)
        guard derivation.isDerivation else { throw bad("externalParameters.derivation", "is not a .drv path") }
        if let resolved = external?["resolvedDerivation"] {
            let r = try path(resolved, "externalParameters.resolvedDerivation", storeDir: storeDir)
            guard r.isDerivation else { throw bad("externalParameters.resolvedDerivation", "is not a .drv path") }
            resolvedDerivation = r
        } else {
            resolvedDerivation = nil
        }
        system = try string(internals?["system"], "internalParameters.system")
        guard let built = internals?["builtBySigner"]?.bool else { throw bad("internalParameters.builtBySigner", "must be a boolean") }
        builtBySigner = built
        guard let subjects = statement["subject"]?.array, !subjects.isEmpty else { throw bad("subject", "must be a non-empty array") }
        var outputs = [Output]()
        for (index, subject) in subjects.enumerated() {
            let field = "subject[\(index)]"
            let name = try string(subject["annotations"]?["output"], "\(field).annotations.output")
            guard !name.isEmpty, name.utf8.allSatisfy({ StorePathNameCharacters.contains($0) }) else { throw bad("\(field).annotations.output", "invalid output name") }
            guard let size = subject["annotations"]?["narSize"]?.int, size > 0 else { throw bad("\(field).annotations.narSize", "must be a positive integer") }
            outputs.append(Output(name: name, path: try path(subject["name"], "\(field).name", storeDir: storeDir),
                                  narHash: try sha256(subject["digest"], "\(field).digest"), narSize: UInt64(size)))
        }
        guard Set(outputs.map(\.name)).count == outputs.count else { throw bad("subject", "an output name appears twice") }
        guard let declaredValues = external?["outputs"]?.array else { throw bad("externalParameters.outputs", "must be a list of output names") }
        let declared = declaredValues.compactMap(\.string)
        guard declared.count == declaredValues.count, declared.sorted() == outputs.map(\.name).sorted() else { throw bad("externalParameters.outputs", "must list exactly the subjects' outputs") }
        self.outputs = outputs.sorted { bytewiseLess($0.name, $1.name) }
        guard let deps = definition?["resolvedDependencies"]?.array else { throw bad("resolvedDependencies", "must be an array") }
        var inputs = [Input]()
        for (index, dep) in deps.enumerated() {
            let field = "resolvedDependencies[\(index)]"
            let drv = try dep["annotations"]?["derivation"].map { (v: JSONValue) throws(TraceError) in try path(v, "\(field).annotations.derivation", storeDir: storeDir) }
            if let drv, !drv.isDerivation { throw bad("\(field).annotations.derivation", "is not a .drv path") }
            let output = try dep["annotations"]?["output"].map { (v: JSONValue) throws(TraceError) in try string(v, "\(field).annotations.output") }
            guard (drv == nil) == (output == nil) else { throw bad(field, "derivation and output annotations go together") }
            inputs.append(Input(path: try path(dep["name"], "\(field).name", storeDir: storeDir), narHash: try sha256(dep["digest"], "\(field).digest"),
                                derivation: drv, output: output))
        }
        guard Set(inputs.map(\.path)).count == inputs.count else { throw bad("resolvedDependencies", "an input appears twice") }
        self.inputs = inputs
        let run = statement["predicate"]?["runDetails"]
        let builderID = try string(run?["builder"]?["id"], "runDetails.builder.id")
        guard builderID.hasPrefix(Self.builderIDPrefix) else { throw bad("runDetails.builder.id", "must start with \(Self.builderIDPrefix)") }
        do throws(KeyError) { builderKey = try NixPublicKey(parsing: String(builderID.dropFirst(Self.builderIDPrefix.count)), source: source) } catch {
            throw bad("runDetails.builder.id", error.reason)
        }
        guard let version = run?["builder"]?["version"]?.object, version.count == 1, let (impl, ver) = version.first, let verText = ver.string else {
            throw bad("runDetails.builder.version", "must name one implementation and its version")
        }
        implementation = impl
        implementationVersion = verText
        let metadata = run?["metadata"]
        invocationID = try string(metadata?["invocationId"], "runDetails.metadata.invocationId")
        startedOn = try metadata?["startedOn"].map { (v: JSONValue) throws(TraceError) in
            try Self.timestamp(string(v, "runDetails.metadata.startedOn"), field: "runDetails.metadata.startedOn", bad)
        }
        finishedOn = try metadata?["finishedOn"].map { (v: JSONValue) throws(TraceError) in
            try Self.timestamp(string(v, "runDetails.metadata.finishedOn"), field: "runDetails.metadata.finishedOn", bad)
        }
        var attestations = [Attestation]()
        for (index, item) in (run?["byproducts"]?.array ?? []).enumerated() where item["name"]?.string == "attestation" {
            let type = try string(item["mediaType"], "byproducts[\(index)].mediaType")
            guard let content = item["content"]?.string, let bytes = Base64.decode(content) else { throw bad("byproducts[\(index)].content", "must be base64") }
            attestations.append(Attestation(type: type, evidence: bytes))
        }
        self.attestations = attestations
    }

    /// Checks `YYYY-MM-DDThh:mm:ssZ` with real calendar ranges (leap years; second 60 for leap seconds).
    static func timestamp(_ text: String, field: String, _ bad: (String, String) -> TraceError) throws(TraceError) -> String {
        guard isTimestamp(text) else { throw bad(field, "'\(text)' is not an RFC 3339 UTC time (YYYY-MM-DDThh:mm:ssZ)") }
        return text
    }

    /// True for `YYYY-MM-DDThh:mm:ssZ` naming a real date and time.
    public static func isTimestamp(_ text: String) -> Bool {
        let b = Array(text.utf8)
        let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
        guard b.count == 20, digits.allSatisfy({ (0x30...0x39).contains(b[$0]) }), b[4] == 0x2d, b[7] == 0x2d, b[10] == 0x54,
              b[13] == 0x3a, b[16] == 0x3a, b[19] == 0x5a else { return false }
        func number(_ range: Range<Int>) -> Int { range.reduce(0) { $0 * 10 + Int(b[$1] - 0x30) } }
        let year = number(0..<4), month = number(5..<7), day = number(8..<10)
        let hour = number(11..<13), minute = number(14..<16), second = number(17..<19)
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...12).contains(month), (1...days[month - 1]).contains(day) else { return false }
        return hour < 24 && minute < 60 && second <= 60
    }
}

let StorePathNameCharacters: Set<UInt8> = Set(Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+-._?=".utf8))

func bytewiseLess(_ lhs: String, _ rhs: String) -> Bool { lhs.utf8.lexicographicallyPrecedes(rhs.utf8) }
