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
            "steps": .array(steps.map { step in
                .object([
                    "derivation": .string(step.derivation),
                    "name": .string(step.name),
                    "kind": .string(step.kind),
                    "status": .string(step.status.rawValue),
                    "signers": .array(step.signers.map(JSONValue.string)),
                    "traces": .int(Int64(step.traceCount)),
                    "reason": step.reason.map(JSONValue.string) ?? .null,
                    "rejected": .array(step.rejected.map(JSONValue.string)),
                    "outputs": .object(step.outputs.mapValues { contents in
                        .array(contents.map { c in
                            .object(["path": .string(c.path), "narHash": c.narHash.map(JSONValue.string) ?? .null, "signers": .array(c.signers.map(JSONValue.string))])
                        })
                    }),
                ])
            }),
        ])
    }
}
