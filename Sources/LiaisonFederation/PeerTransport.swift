public import LiaisonModel

/// How a node reaches one peer's federation API (DESIGN §5). The HTTP
/// module implements it over mutual TLS; the services here only see bytes
/// in the protocol's canonical DER, so they are tested with any transport.
public protocol PeerTransport: Sendable {
    /// Sends an `EnvelopeBatch`; returns the peer's `BatchReply`. With the
    /// size of the peer's log this node last verified, the reply carries the
    /// consistency proof from it.
    func sendBatch(_ batch: [UInt8], knownSize: Int?) async throws(FederationError) -> [UInt8]
    /// The peer's latest signed tree head (`Signed<TreeHead>`).
    func treeHead() async throws(FederationError) -> [UInt8]
    /// The consistency proof between two sizes of the peer's ledger (a `Path`).
    func consistencyProof(from old: Int, to new: Int) async throws(FederationError) -> [UInt8]
    /// Sends a `StatementBundle`; returns the peer's `BatchReply` for it.
    func sendStatements(_ bundle: [UInt8]) async throws(FederationError) -> [UInt8]
}

/// The transports to this node's peers.
public protocol PeerDirectory: Sendable {
    func transport(to peer: Party) -> (any PeerTransport)?
}
