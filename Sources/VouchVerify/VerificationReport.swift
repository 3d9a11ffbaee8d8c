import VouchTrace

/// One build step's outcome.
public struct StepReport: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable {
        case verified, legacy, fixedOutput = "fixed-output", failed
    }
    public struct Content: Sendable, Hashable {
        public var path: String
        public var narHash: String?
        public var signers: [String]
    }
    public var derivation: String
    public var name: String
    public var kind: String
    public var status: Status
    public var outputs: [String: [Content]]
    /// Distinct policy keys counted for this step.
    public var signers: [String]
    /// Why traces did not count.
    public var rejected: [String]
    public var reason: String?
    public var traceCount: Int
    /// Failed although all its inputs verified: where the closure breaks.
    public var isLowestFailure = false
    /// The step's input derivations (the closure's edges), sorted.
    public var inputs: [String] = []
    /// For content-addressed and deferred steps: the resolved derivations the verifier computed
    /// from accepted input contents (what a laut trace names), sorted.
    public var resolvedDerivations: [String] = []
}

/// The result of verifying a closure.
public struct VerificationReport: Sendable {
    public var target: String
    /// Every step, inputs before the steps that use them.
    public var steps: [StepReport]
    public var verified: Bool
    public var reason: String?

    public var lowestFailures: [StepReport] { steps.filter(\.isLowestFailure) }

    public var json: JSONValue {
        .object([
            "target": .string(target),
            "verified": .bool(verified),
            "reason": reason.map(JSONValue.string) ?? .null,
            "lowestFailures": .array(lowestFailures.map { .string($0.derivation) }),
            "steps": .array(steps.map(\.json)),
        ])
    }

    /// Exactly `json.canonicalBytes`, with the steps encoded on all cores.
    public var canonicalJSON: [UInt8] { Array(canonicalJSONPieces.joined()) }

    /// ``canonicalJSON`` in consecutive pieces (the steps in chunks, encoded on all cores), to be
    /// written out one after another without first joining them.
    public var canonicalJSONPieces: [[UInt8]] {
        var head = Array("{\"lowestFailures\":".utf8) + JSONValue.array(lowestFailures.map { .string($0.derivation) }).canonicalBytes
        head += Array(",\"reason\":".utf8) + (reason.map(JSONValue.string) ?? .null).canonicalBytes
        head += Array(",\"steps\":[".utf8)
        let chunk = 256
        let starts = Array(stride(from: 0, to: steps.count, by: chunk))
        let steps = self.steps
        let encoded: [[UInt8]] = (try? Verifier.parallelMap(starts) { start -> [UInt8] in
            var bytes: [UInt8] = start > 0 ? [UInt8(ascii: ",")] : []
            for i in start..<min(steps.count, start + chunk) {
                if i > start { bytes.append(UInt8(ascii: ",")) }
                bytes += steps[i].json.canonicalBytes
            }
            return bytes
        }) ?? []
        var tail = Array("],\"target\":".utf8) + JSONValue.string(target).canonicalBytes
        tail += Array(",\"verified\":\(verified)}".utf8)
        return [head] + encoded + [tail]
    }
}

extension StepReport {
    public var json: JSONValue {
        .object([
            "derivation": .string(derivation),
            "name": .string(name),
            "kind": .string(kind),
            "status": .string(status.rawValue),
            "signers": .array(signers.map(JSONValue.string)),
            "traces": .int(Int64(traceCount)),
            "reason": reason.map(JSONValue.string) ?? .null,
            "rejected": .array(rejected.map(JSONValue.string)),
            "resolved": .array(resolvedDerivations.map(JSONValue.string)),
            "outputs": .object(outputs.mapValues { contents in
                .array(contents.map { c in
                    .object(["path": .string(c.path), "narHash": c.narHash.map(JSONValue.string) ?? .null, "signers": .array(c.signers.map(JSONValue.string))])
                })
            }),
        ])
    }
}
