import NixFormats
import VouchTrace

/// Evidence available to a verification: signed traces (Vouch DSSE envelopes and laut JWS) and,
/// for legacy signers, narinfos.
public struct Evidence: Sendable {
    /// Vouch traces, prepared for checking their builders' signatures.
    public var traces: [PreparedTrace]
    /// laut traces: each names the resolved content-addressed derivation it built and its outputs;
    /// its signer is whichever policy key verifies it.
    public var lautTraces: [LautTrace]
    public var narinfos: [NARInfo]
    public init(traces: [PreparedTrace] = [], lautTraces: [LautTrace] = [], narinfos: [NARInfo] = []) {
        self.traces = traces
        self.lautTraces = lautTraces
        self.narinfos = narinfos
    }

    public init(traces: [SignedTrace], lautTraces: [LautTrace] = [], narinfos: [NARInfo] = []) {
        self.init(traces: traces.map(PreparedTrace.init), lautTraces: lautTraces, narinfos: narinfos)
    }
}
