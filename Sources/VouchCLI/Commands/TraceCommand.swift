import ArgumentParser
import NixFormats
import VouchTrace

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Inspect and verify signed build traces (DSSE envelopes, or laut JWS traces).",
        subcommands: [Show.self, Verify.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a human summary of a trace envelope.")
        @Argument(help: "DSSE envelope file.") var file: String

        func run() throws {
            let signed = try SignedTrace(parsing: FileIO.read(path: file, limit: DSSEEnvelope.maximumSize), source: file)
            let t = signed.trace
            var s = "derivation:  \(t.derivation)\n"
            if let r = t.resolvedDerivation { s += "resolved:    \(r)\n" }
            s += "system:      \(t.system)\nbuilder:     \(t.builderKey)\(t.builtBySigner ? " (claims it ran the build)" : "")\n"
            s += "tool:        \(t.implementation) \(t.implementationVersion)\ninvocation:  \(t.invocationID)\n"
            if let started = t.startedOn { s += "started:     \(started)\n" }
            if let finished = t.finishedOn { s += "finished:    \(finished)\n" }
            s += "outputs:\n"
            for o in t.outputs { s += "  \(o.name)  \(o.path)  \(o.narHash.encoded(.nix32))  \(o.narSize) bytes\n" }
            s += "inputs (\(t.inputs.count)):\n"
            for i in t.inputs {
                let from = i.derivation.map { "  from \($0)!\(i.output ?? "")" } ?? ""
                s += "  \(i.path)  \(i.narHash.encoded(.nix32))\(from)\n"
            }
            for a in t.attestations { s += "attestation: \(a.type), \(a.evidence.count) bytes\n" }
            s += "signatures (\(signed.envelope.signatures.count)):\n"
            for sig in signed.envelope.signatures { s += "  keyid \(sig.keyID.isEmpty ? "(none)" : sig.keyID)\n" }
            Output.out(s)
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exit 0 if the trace carries a valid signature by a trusted key that is its builder, 1 if not, 2 for bad input.",
            discussion: "Also accepts a laut trace file ({\"signatures\":[JWS…]}) or a single compact JWS; those verify if any JWS is signed by a trusted key.")
        @OptionGroup var trusted: TrustedKeys
        @Argument(help: "Trace file.") var file: String
        @Flag(name: .shortAndLong, help: "Say what each signature is.") var verbose = false

        func run() throws {
            let keys = try trusted.parsed()
            let bytes = try FileIO.read(path: file, limit: DSSEEnvelope.maximumSize)
            let text = String(decoding: bytes.prefix(64), as: UTF8.self).trimmingPrefix(while: { $0 == " " || $0 == "\n" })
            if text.hasPrefix("ey") || text.contains("\"signatures\"") && !text.contains("\"payload") {
                try verifyLaut(bytes, keys: keys)
                return
            }
            let signed = try SignedTrace(parsing: bytes, source: file)
            let outcomes = signed.verify(trusting: keys)
            let lines = outcomes.map { outcome -> String in
                switch outcome {
                case .valid(let k): "valid signature by builder '\(k.name)'"
                case .notBuilder(let k): "valid signature by '\(k.name)', which is not the builder the trace names ('\(signed.trace.builderKey.name)'): not counted"
                case .invalid(let id): "INVALID signature (keyid \(id))"
                case .untrusted(let id): "signature by an untrusted key (keyid \(id.isEmpty ? "none" : id))"
                }
            }
            let ok = !signed.validSigners(trusting: keys).isEmpty
            if verbose { Output.out(lines.map { "\(file): \($0)\n" }.joined()) }
            guard ok else {
                throw VerificationFailed(message: "\(file): trace of \(signed.trace.derivation) has no valid signature by a trusted builder (\(lines.isEmpty ? "no signatures" : lines.joined(separator: "; ")))")
            }
        }

        private func verifyLaut(_ bytes: [UInt8], keys: [NixPublicKey]) throws {
            let trimmed = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: [" ", "\n", "\r", "\t"])
            let traces = trimmed.hasPrefix("{") ? try LautTrace.parseFile(bytes, source: file) : [try LautTrace(compact: trimmed, source: file)]
            var any = false
            for (index, trace) in traces.enumerated() {
                let signer = trace.signer(trusting: keys)
                if signer != nil { any = true }
                if verbose {
                    Output.out("\(file) [\(index)] rdrv \(trace.resolvedDerivationHash): \(signer.map { "valid signature by '\($0.name)'" } ?? "no valid signature by a trusted key")\n")
                }
            }
            guard any else { throw VerificationFailed(message: "\(file): no laut trace signed by a trusted key") }
        }
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
