public import LiaisonFederation

/// A peer's real transport that serves a chosen tree head or consistency
/// proof instead of the peer's own: a forged view of its ledger (the
/// hostile-peer tests and the fault suite's ledger attacks).
public struct LyingTransport: PeerTransport {
    public let real: any PeerTransport
    public let head: [UInt8]?
    public let proof: [UInt8]?
    public init(real: any PeerTransport, head: [UInt8]?, proof: [UInt8]?) { (self.real, self.head, self.proof) = (real, head, proof) }
    public func sendBatch(_ batch: [UInt8], knownSize: Int?) async throws(FederationError) -> [UInt8] { try await real.sendBatch(batch, knownSize: knownSize) }
    public func treeHead() async throws(FederationError) -> [UInt8] {
        if let head { return head }
        return try await real.treeHead()
    }
    public func consistencyProof(from old: Int, to new: Int) async throws(FederationError) -> [UInt8] {
        if let proof { return proof }
        return try await real.consistencyProof(from: old, to: new)
    }
    public func sendStatements(_ bundle: [UInt8]) async throws(FederationError) -> [UInt8] { try await real.sendStatements(bundle) }
}
